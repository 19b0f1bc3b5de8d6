"""Our own cancellations and refunds told to the marketplace (Mirakl), or it keeps charging the buyer.

- Units we cancel before shipment (``order.lines_cancelled``, from the back office or the API) → **OR30**
  ``PUT /api/orders/cancel``; a whole order we cancel (``order.cancelled`` not made unit by unit) → **OR29**;
  a refunded return (``return.refunded``) or a goodwill refund (``order.goodwill_refunded``) → **OR28**
  ``PUT /api/orders/refund``.
- What the marketplace did itself (``source`` "mirakl": OR11's cancellations, its CANCELED state) is never
  sent back.
- The consumer ``channels.marketplace_outbound`` writes one ``MarketplaceSend`` row per change (unique per
  channel and change: an event handled twice asks once) and queues its job after commit; the job calls Mirakl
  outside any transaction, retried with backoff on 429 / 5xx / network errors (``ChannelUnavailable``), kept
  as refused on a 4xx with Mirakl's message, shown on the connector's page and the connector health page,
  where a manager replays it.
- Mirakl answers with the ids of the cancellations / refunds it created: stored on the row, so when OR11
  lists them on the order's lines, ``adjustments.adjustments_apply`` records them as ours and applies
  nothing a second time.
- Reason codes differ per marketplace: RE02 ``GET /api/reasons/{type}`` cached on the connector; the
  manager's default per kind (connector page) is used unless the change names one."""

import json
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from common import jobs
from common.eventlog import consumer
from orders.models import Channel, Order, OrderLine

from . import mirakl
from .http import ChannelError
from .models import ChannelConnection, MarketplaceSend, WebhookDelivery

Kind = MarketplaceSend.Kind
State = MarketplaceSend.State
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
OUTBOUND_KINDS = {Channel.Kind.MIRAKL}


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _remote_line_ids(order: Order) -> dict[str, str]:
    """SKU → Mirakl order line id, read from the order's payloads as OR11 gave them (newest first)."""
    found: dict[str, str] = {}
    payloads = (
        WebhookDelivery.objects.filter(channel_id=order.channel_id, order_id=order.pk)
        .order_by("-received_at", "-id")
        .values_list("payload", flat=True)[:5]
    )
    for text in payloads:
        try:
            body = json.loads(text)
        except ValueError:
            continue
        for line in body.get("order_lines") or [] if isinstance(body, dict) else []:
            sku = str(line.get("offer_sku") or "").strip()
            if sku and line.get("order_line_id") and sku not in found:
                found[sku] = str(line["order_line_id"])
    return found


def _items(order: Order, units: dict[int, int], *, total: Decimal, shipping: Decimal) -> list[dict]:
    """One entry per order line (Mirakl's documented fields): the lines' value, what the refund keeps back
    (a return fee) taken off the last line, the shipping part on the first."""
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=list(units))}
    remote = _remote_line_ids(order)
    items = []
    for line_id in sorted(units):
        line = lines.get(line_id)
        if line is None or units[line_id] <= 0:
            continue
        items.append(
            {
                "order_line_id": remote.get(line.sku, ""),
                "quantity": units[line_id],
                "amount": (line.unit_price * units[line_id]).quantize(CENT),
                "shipping_amount": ZERO,
                "currency_iso_code": "EUR",
                "sku": line.sku,
            }
        )
    if not items:
        return []
    lines_total = sum((i["amount"] for i in items), ZERO)
    kept = lines_total + shipping - total  # a return fee, the part of an exchange: not refunded
    for item in reversed(items):
        if kept <= 0:
            break
        take = min(kept, item["amount"])
        item["amount"] -= take
        kept -= take
    items[0]["shipping_amount"] = max(shipping, ZERO)
    return [{**i, "amount": str(i["amount"]), "shipping_amount": str(i["shipping_amount"])} for i in items]


def _amount_items(order: Order, amount: Decimal) -> list[dict]:
    """An amount refunded without units (a gesture): spread over the lines in proportion of their value."""
    lines = [line for line in OrderLine.objects.filter(order=order).order_by("line_no") if line.quantity]
    value = sum((line.unit_price * line.quantity for line in lines), ZERO)
    remote = _remote_line_ids(order)
    items, left = [], amount
    for index, line in enumerate(lines):
        share = (
            left
            if index == len(lines) - 1
            else (amount * line.unit_price * line.quantity / value).quantize(CENT)
            if value
            else ZERO
        )
        share = min(share, left)
        left -= share
        if share > 0:
            items.append(
                {
                    "order_line_id": remote.get(line.sku, ""),
                    "quantity": 0,
                    "amount": str(share),
                    "shipping_amount": "0.00",
                    "currency_iso_code": "EUR",
                    "sku": line.sku,
                }
            )
    return items


def _request(event, order: Order) -> tuple[str, str, list[dict], str] | None:
    """(kind, our change's key, items, reason code chosen with the change) for an event, None when there is
    nothing to tell the marketplace."""
    p = event.payload
    if p.get("source") in OUTBOUND_KINDS:  # the marketplace's own change, read from it
        return None
    reason = str(p.get("reason_code") or "")[:64]
    match event.code:
        case "order.lines_cancelled":
            units = {int(x["line_id"]): int(x["quantity"]) for x in p.get("lines") or []}
            value = sum(
                (
                    line.unit_price * units[line.pk]
                    for line in OrderLine.objects.filter(order=order, pk__in=list(units))
                ),
                ZERO,
            )
            total = _money(p.get("amount"))
            items = _items(order, units, total=total, shipping=max(total - value, ZERO))
            return Kind.CANCELLATION, f"change:{p.get('change')}", items, reason
        case "order.cancelled":
            if p.get("with_lines"):  # its lines were cancelled unit by unit: OR30 says it
                return None
            return Kind.ORDER_CANCEL, f"order:{order.pk}:cancel", [], reason
        case "return.refunded":
            units = {int(k): int(v) for k, v in (p.get("quantities") or {}).items()}
            items = _items(order, units, total=_money(p.get("amount")), shipping=ZERO)
            return Kind.REFUND, f"return:{p.get('return_id')}", items, reason
        case "order.goodwill_refunded":
            items = _amount_items(order, _money(p.get("amount")))
            return Kind.REFUND, f"goodwill:{p.get('refund')}", items, reason
    return None


@consumer(
    "channels.marketplace_outbound",
    codes={"order.lines_cancelled", "order.cancelled", "return.refunded", "order.goodwill_refunded"},
)
def on_our_change(event) -> None:
    if event.order_id is None:
        return
    order = Order.objects.select_related("channel").get(pk=event.order_id)
    if order.channel.kind not in OUTBOUND_KINDS:
        return
    request = _request(event, order)
    if request is None:
        return
    kind, key, items, reason = request
    if kind != Kind.ORDER_CANCEL and not items:
        return
    try:
        with transaction.atomic():
            row = MarketplaceSend.objects.create(
                channel=order.channel,
                order=order,
                kind=kind,
                key=key[:100],
                items=items,
                reason_code=reason,
                job_due_at=jobs.due(),
            )
    except IntegrityError:
        return  # this change is already asked for (the event delivered twice)
    from .tasks import marketplace_send as marketplace_send_task

    jobs.enqueue_on_commit(marketplace_send_task, row.pk)


# --- Sending ---------------------------------------------------------------------------------------------


def reason_for(*, connection: ChannelConnection, kind: str) -> str:
    """The connector's default reason for a kind of change; the marketplace's first one when none is set
    (fetched and cached once)."""
    family = "refund" if kind == Kind.REFUND else "cancellation"
    code = (connection.default_reasons or {}).get(family)
    if code:
        return code
    cached = (connection.marketplace_reasons or {}).get(mirakl.REASON_TYPES[family])
    if cached is None:
        cached = marketplace_reasons_refresh(connection=connection).get(mirakl.REASON_TYPES[family], [])
    return cached[0]["code"] if cached else ""


def reasons_for_forms(*, channel, family: str) -> tuple[list[tuple[str, str]], str] | None:
    """For the order's forms (``orders.reasons``): the marketplace's reason codes of a family as RE02 gave
    them (cached on the connector; nothing is fetched here) and the connector's default; None for a channel we
    do not send changes to."""
    if channel.kind not in OUTBOUND_KINDS:
        return None
    connection = ChannelConnection.objects.filter(channel=channel).first()
    if connection is None:
        return [], ""
    cached = (connection.marketplace_reasons or {}).get(mirakl.REASON_TYPES[family]) or []
    choices = [(r["code"], f"{r['code']} — {r['label']}") for r in cached if r.get("code")]
    return choices, (connection.default_reasons or {}).get(family, "")


def marketplace_reasons_refresh(*, connection: ChannelConnection) -> dict:
    """RE02 for each type we send: cached on the connector."""
    cache = {
        reason_type: mirakl.reasons(connection, reason_type=reason_type)
        for reason_type in mirakl.REASON_TYPES.values()
    }
    cache["fetched_at"] = timezone.now().isoformat()
    ChannelConnection.objects.filter(pk=connection.pk).update(marketplace_reasons=cache)
    connection.marketplace_reasons = cache
    return cache


def marketplace_send(*, send_id: int) -> str:
    """The job: call the marketplace once for the row (claimed: a redelivered message does nothing). A 4xx
    is kept as refused with the marketplace's answer; a 429, 5xx or network error propagates
    (``ChannelUnavailable``) for the task's retry with backoff, the row staying due for the sweep."""
    from .jobs import MARKETPLACE_SEND

    with jobs.claim(MARKETPLACE_SEND, send_id) as job:
        if job is None:
            return "skipped"
        row = MarketplaceSend.objects.select_related("order", "channel").get(pk=send_id)
        connection = ChannelConnection.objects.select_related("channel").get(channel=row.channel)
        try:
            reason = row.reason_code
            if not reason and row.kind != Kind.ORDER_CANCEL:  # OR29 takes no reason
                reason = reason_for(connection=connection, kind=row.kind)
            remote_ids = _call(connection=connection, row=row, reason=reason)
        except ChannelError as exc:
            error = f"{exc} {_mirakl_message(exc.body)}".strip()
            MarketplaceSend.objects.filter(pk=row.pk).update(state=State.FAILED, error=error[:2000])
            ChannelConnection.objects.filter(pk=connection.pk).update(
                last_error=f"{row.order.number}: {error}"[:2000], last_error_at=timezone.now()
            )
            return State.FAILED
        MarketplaceSend.objects.filter(pk=row.pk).update(
            state=State.SENT,
            reason_code=reason,
            remote_ids=remote_ids,
            error="",
            sent_at=timezone.now(),
        )
        from orders.services.events import event_add

        event_add(
            order=row.order,
            code="order.channel_told",
            channel=row.channel.name,
            kind=row.kind,
            remote_ids=remote_ids,
            reason_code=reason,
        )
        return State.SENT


def _mirakl_message(body: str) -> str:
    try:
        data = json.loads(body or "")
    except ValueError:
        return body[:500]
    return str(data.get("message") or data) if isinstance(data, dict) else str(data)[:500]


def _call(*, connection: ChannelConnection, row: MarketplaceSend, reason: str) -> list[str]:
    if row.kind == Kind.ORDER_CANCEL:
        mirakl.cancel_order(connection, order_id=row.order.external_id)
        return []
    missing = [i["sku"] for i in row.items if not i.get("order_line_id")]
    if missing:
        raise ChannelError(f"No Mirakl order line known for {', '.join(missing)}.")
    items = [
        {
            "order_line_id": i["order_line_id"],
            "quantity": i["quantity"],
            "amount": float(i["amount"]),
            "shipping_amount": float(i["shipping_amount"]),
            "currency_iso_code": i["currency_iso_code"],
            "reason_code": reason,
        }
        for i in row.items
    ]
    if row.kind == Kind.CANCELLATION:
        return mirakl.cancel_lines(connection, items=items)
    return mirakl.refund_lines(connection, items=items)


def default_reasons_save(*, connection: ChannelConnection, reasons: dict) -> ChannelConnection:
    """The manager's default reason per kind (connector page); blank: the marketplace's first one."""
    connection.default_reasons = {k: v for k, v in reasons.items() if k in ("cancellation", "refund") and v}
    ChannelConnection.objects.filter(pk=connection.pk).update(default_reasons=connection.default_reasons)
    return connection


def marketplace_send_replay(*, send: MarketplaceSend) -> MarketplaceSend:
    """A manager's "send again" of a refused change (after fixing its cause)."""
    from .tasks import marketplace_send as marketplace_send_task

    MarketplaceSend.objects.filter(pk=send.pk, state=State.FAILED).update(
        state=State.PENDING, error="", job_lease_until=None, **jobs.restart_fields(0)
    )
    jobs.enqueue_on_commit(marketplace_send_task, send.pk)
    send.refresh_from_db()
    return send


# --- Recognising our own changes in OR11 ---------------------------------------------------------------


def ours(*, channel, order: Order, found: list) -> set[tuple[str, str]]:
    """(kind, marketplace id) of the cancellations and refunds OR11 lists that we asked for ourselves: their
    ids are those Mirakl answered to OR30 / OR28; a change still being sent matches by line and quantity
    (OR11 read between Mirakl's answer and our storing it)."""
    sends = list(MarketplaceSend.objects.filter(channel=channel, order=order).exclude(kind=Kind.ORDER_CANCEL))
    known = {(s.kind, rid) for s in sends if s.state == State.SENT for rid in s.remote_ids}
    in_flight = [s for s in sends if s.state == State.PENDING and s.job_lease_until]
    mine = set()
    for item in found:
        key = (item.kind, item.remote_id)
        if key in known:
            mine.add(key)
            continue
        for send in in_flight:
            if send.kind == item.kind and any(
                i.get("order_line_id") == item.remote_line_id and int(i.get("quantity") or 0) == item.quantity
                for i in send.items
            ):
                mine.add(key)
                break
    return mine
