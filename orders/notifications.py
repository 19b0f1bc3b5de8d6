"""What the customer is told at each step of their order, and when.

The content (subject, HTML and plain text, in the customer's language) is built here because it needs the
order's data; it is queued through ``customers.services.notification_queue`` (the transactional outbox of
``customers``) by the consumer ``orders.notifications`` of the domain event log (``orders/events.py``),
in the transaction that moves that consumer's progress: an event is told once, and a committed change is
never lost. Each message has a dedup key naming its event: a replayed event queues nothing new, a second
partial shipment (another set of parcels) does.
"""

import hashlib
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, prefetch_related_objects
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from customers import services as customer_services
from customers.models import Notification
from inventory.models import Allocation
from shipping.models import ShipmentLine

from .models import DeliveryMode, Order, OrderStatus

Kind = Notification.Kind

# Order status -> the message it sends. Statuses reached at intake (allocated, awaiting stock from
# received) are told once by the "order received" message instead.
STATUS_KINDS = {
    OrderStatus.AWAITING_STOCK: Kind.AWAITING_STOCK,
    OrderStatus.PARTIALLY_SHIPPED: Kind.SHIPPED,
    OrderStatus.SHIPPED: Kind.SHIPPED,
    OrderStatus.OUT_FOR_DELIVERY: Kind.OUT_FOR_DELIVERY,
    OrderStatus.READY_FOR_PICKUP: Kind.READY_FOR_PICKUP,
    OrderStatus.DELIVERED: Kind.DELIVERED,
    OrderStatus.CANCELLED: Kind.CANCELLED,
}
# Moves made by the intake itself: the "order received" message tells them.
INTAKE_STATUSES = frozenset({OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK})

# Text messages, for customers who agreed to them, only where timing matters.
SMS_KINDS = frozenset({Kind.SHIPPED, Kind.OUT_FOR_DELIVERY, Kind.READY_FOR_PICKUP, Kind.DELAY})

# Parcels that have left (or are about to, with their label): those a "shipped" message lists.
NOT_SHIPPED = ("created", "label_failed", "cancelled")


def _subject(kind: str, **params) -> str:
    subjects = {
        Kind.ORDER_RECEIVED: _("We have received your order %(number)s"),
        Kind.AWAITING_STOCK: _("Your order %(number)s is awaiting stock"),
        Kind.SHIPPED: _("Your order %(number)s has shipped"),
        Kind.OUT_FOR_DELIVERY: _("Your order %(number)s is out for delivery"),
        Kind.READY_FOR_PICKUP: _("Your order %(number)s is ready for pickup"),
        Kind.DELIVERED: _("Your order %(number)s has been delivered"),
        Kind.DELAY: _("Your order %(number)s: a new delivery date"),
        Kind.RETURN_ACCEPTED: _("Your return %(reference)s is accepted"),
        Kind.REFUND_ISSUED: _("Your refund for order %(number)s"),
        Kind.CANCELLED: _("Your order %(number)s is cancelled"),
        Kind.ORDER_CHANGED: _("Your order %(number)s has changed"),
    }
    if kind == Kind.SHIPPED and params.get("partial"):
        return _("Part of your order %(number)s has shipped") % params
    return subjects[kind] % params


def _sms_text(kind: str, **params) -> str:
    texts = {
        Kind.SHIPPED: _("%(merchant)s: your order %(number)s has shipped. Follow it: %(url)s"),
        Kind.OUT_FOR_DELIVERY: _("%(merchant)s: your order %(number)s is out for delivery today. %(url)s"),
        Kind.READY_FOR_PICKUP: _("%(merchant)s: your order %(number)s is ready for pickup. %(url)s"),
        Kind.DELAY: _("%(merchant)s: your order %(number)s will arrive by %(date)s. %(url)s"),
    }
    return texts[kind] % params


# Portal steps (UI.md): received, preparing, shipped, out for delivery / ready for pickup, delivered.
def _steps(order: Order) -> list[dict]:
    pickup = order.delivery_mode != DeliveryMode.HOME or order.status == OrderStatus.READY_FOR_PICKUP
    steps = [
        (_("Received"), {OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK}),
        (_("Preparing"), {OrderStatus.IN_PREPARATION}),
        (_("Shipped"), {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}),
        (
            _("Ready for pickup") if pickup else _("Out for delivery"),
            {OrderStatus.OUT_FOR_DELIVERY, OrderStatus.READY_FOR_PICKUP},
        ),
        (_("Delivered"), {OrderStatus.DELIVERED, OrderStatus.RETURNED}),
    ]
    current = next((i for i, (_label, statuses) in enumerate(steps) if order.status in statuses), 0)
    return [
        {"label": label, "state": "done" if i < current else "current" if i == current else "todo"}
        for i, (label, _statuses) in enumerate(steps)
    ]


def _merchant() -> dict:
    return {
        "name": settings.MERCHANT_NAME,
        "logo_url": settings.MERCHANT_LOGO_URL,
        "color": settings.MERCHANT_COLOR,
        "support_email": settings.MERCHANT_SUPPORT_EMAIL,
    }


def _lines(order: Order) -> list:
    """The lines the customer gets (a line whose every unit was cancelled is not listed)."""
    return list(order.lines.filter(quantity__gt=0).order_by("line_no"))


def _restock(order: Order) -> list[dict]:
    """Lines waiting for a replenishment, with the date it is expected."""
    rows = (
        Allocation.objects.filter(line__order=order, kind=Allocation.Kind.INCOMING, consumed_at__isnull=True)
        .select_related("line", "incoming")
        .order_by("incoming__expected_on", "line__line_no")
    )
    return [
        {
            "name": a.line.name,
            "sku": a.line.sku,
            "quantity": a.quantity,
            "expected_on": a.incoming.expected_on,
        }
        for a in rows
    ]


def _shipments(order: Order) -> list:
    """The parcels a "shipped" message lists (their lines not read yet: ``_parcels``)."""
    return list(
        order.shipments.exclude(status__in=NOT_SHIPPED)
        .select_related("service__carrier")
        .order_by("created_at", "pk")
    )


def _parcels(order: Order, shipments: list | None = None) -> list[dict]:
    shipments = _shipments(order) if shipments is None else shipments
    # their lines with their order lines in one statement
    prefetch_related_objects(
        shipments, Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line"))
    )
    # The customer reads the names of what they bought (as on their order), never our SKUs.
    return [
        {
            "number": s.number,
            "carrier": s.service.carrier.name if s.service_id else "",
            "service": s.service.name if s.service_id else "",
            "tracking_number": s.tracking_number,
            "lines": [
                {"name": line.order_line.name, "sku": line.sku, "quantity": line.quantity}
                for line in s.lines.all()
            ],
        }
        for s in shipments
    ]


def _pickup(order: Order) -> dict | None:
    """Where to collect the order: the store (name, address, hours, pickup code) or the relay point."""
    if order.delivery_mode == DeliveryMode.STORE and order.pickup_location_id:
        store = order.pickup_location
        return {
            "kind": "store",
            "name": store.name,
            "lines": [x for x in (store.address_line1, store.address_line2) if x],
            "city": f"{store.postcode} {store.city}".strip(),
            "opening_hours": store.opening_hours,
            "code": order.pickup_code,
        }
    if order.delivery_mode == DeliveryMode.RELAY and order.relay_point:
        relay = order.relay_point
        return {
            "kind": "relay",
            "name": relay.get("name") or relay.get("id", ""),
            "lines": [x for x in (relay.get("line1"), relay.get("line2")) if x],
            "city": f"{relay.get('postcode', '')} {relay.get('city', '')}".strip(),
            "opening_hours": relay.get("opening_hours", ""),
            "code": "",
        }
    return None


def _render(kind: str, context: dict) -> tuple[str, str]:
    html = render_to_string(f"orders/emails/{kind}.html", context)
    text = render_to_string(f"orders/emails/{kind}.txt", context)
    return html, _tidy(text)


def _tidy(text: str) -> str:
    """Plain-text part: no trailing spaces, at most one empty line in a row (templates leave some)."""
    out: list[str] = []
    for line in (raw.rstrip() for raw in text.strip().splitlines()):
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out) + "\n"


def _key(*parts) -> str:
    key = ":".join(str(p) for p in parts)
    if len(key) > 180:  # many parcels: keep the key short and still unique to the set
        key = f"{parts[0]}:{parts[1]}:{parts[2]}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"
    return key


def build_email(*, order: Order, kind: str, extra: dict | None = None) -> tuple[str, str, str]:
    """The email of ``kind`` about ``order`` in the active language: (subject, plain text, HTML)."""
    extra = extra or {}
    context = {
        "order": order,
        "customer": order.customer,
        "merchant": _merchant(),
        "tracking_url": order.tracking_url,
        "steps": _steps(order) if order.status != OrderStatus.CANCELLED else [],
        "kind": kind,
        **extra,
    }
    subject = _subject(kind, number=order.number, **extra)
    context["subject"] = subject
    html, text = _render(kind, context)
    return subject, text, html


def _sms_wanted(order: Order, kind: str) -> str:
    """The phone number a text message of ``kind`` goes to ("" when none is sent)."""
    customer = order.customer
    phone = customer.phone or order.ship_phone
    return phone if kind in SMS_KINDS and customer.sms_opt_in and phone else ""


def _queued_already(*, order: Order, kind: str, event: str) -> bool:
    """Whether every message ``_queue`` would write for this event is already in the outbox (a replay, or
    the "shipped" message asked again by the move to shipped after the hand-over told it): then nothing
    needs building (one statement instead of the message's reads and its rendering)."""
    keys = []
    if order.customer.email:
        keys.append(_key("order", order.pk, kind, event, "email")[:200])
    if _sms_wanted(order, kind):
        keys.append(_key("order", order.pk, kind, event, "sms")[:200])
    return bool(keys) and Notification.objects.filter(dedup_key__in=keys).count() == len(keys)


def _queue(*, order: Order, kind: str, event: str, extra: dict | None = None, sms_params: dict | None = None):
    """Build the email (and the text message where it applies) in the customer's language and queue it."""
    customer = order.customer
    language = customer.language or settings.LANGUAGE_CODE
    with translation.override(language):
        subject, text, html = build_email(order=order, kind=kind, extra=extra)
        customer_services.notification_queue(
            customer=customer,
            order=order,
            kind=kind,
            channel=Notification.Channel.EMAIL,
            language=language,
            recipient=customer.email,
            subject=subject,
            body_text=text,
            body_html=html,
            dedup_key=_key("order", order.pk, kind, event, "email"),
        )
        phone = _sms_wanted(order, kind)
        if phone:
            customer_services.notification_queue(
                customer=customer,
                order=order,
                kind=kind,
                channel=Notification.Channel.SMS,
                language=language,
                recipient=phone,
                body_text=_sms_text(
                    kind,
                    merchant=settings.MERCHANT_NAME,
                    number=order.number,
                    url=order.tracking_url,
                    **(sms_params or {}),
                ),
                dedup_key=_key("order", order.pk, kind, event, "sms"),
            )


def _fresh(order: Order) -> Order:
    if getattr(order, "_read_for_message", False):
        return order  # read by ``order_for_message`` for this message: not again
    return Order.objects.select_related("customer", "pickup_location", "channel").get(pk=order.pk)


def order_for_message(order_id: int) -> Order:
    """The order as the messages need it, read once for the event being told (the functions below do not
    read it again)."""
    order = Order.objects.select_related("customer", "pickup_location", "channel").get(pk=order_id)
    order._read_for_message = True
    return order


def status_has_message(*, old_status: str, new_status: str) -> bool:
    """Whether ``order_notify_status`` would tell the customer anything of this move (without reading the
    order)."""
    kind = STATUS_KINDS.get(new_status)
    return not (kind is None or (old_status == OrderStatus.RECEIVED and new_status in INTAKE_STATUSES))


def order_notify_created(*, order: Order) -> None:
    """ "We have received your order": the lines, the total, the promised dates; for a pre-order, when the
    missing items are expected."""
    order = _fresh(order)
    restock = _restock(order) if order.status == OrderStatus.AWAITING_STOCK else []
    _queue(
        order=order,
        kind=Kind.ORDER_RECEIVED,
        event="created",
        extra={"lines": _lines(order), "restock": restock, "pickup": _pickup(order)},
    )


def order_notify_status(*, order: Order, old_status: str, new_status: str, check_first: bool = True) -> None:
    """The message of a status change, if it has one (see STATUS_KINDS). ``check_first=False``: the
    "shipped" message is usually new (the hand-over's own event), so its keys are not looked up first (a
    replay builds it again, and the outbox's ``ON CONFLICT (dedup_key) DO NOTHING`` drops it)."""
    if not status_has_message(old_status=old_status, new_status=new_status):
        return  # no message, or the intake's own move: "order received" tells it
    kind = STATUS_KINDS[new_status]
    order = _fresh(order)
    if kind == Kind.AWAITING_STOCK:
        restock = _restock(order)
        last = max((r["expected_on"] for r in restock), default=None)
        _queue(
            order=order,
            kind=kind,
            event=f"restock-{last.isoformat() if last else 'unknown'}",
            extra={"restock": restock, "restock_on": last},
        )
    elif kind == Kind.SHIPPED:
        shipments = _shipments(order)
        partial = new_status == OrderStatus.PARTIALLY_SHIPPED
        # One message per set of parcels gone: a second partial shipment notifies again, a replay does not.
        # The key first: the move to shipped asks again for the set the hand-over's event just told.
        event = ",".join(sorted(s.number for s in shipments)) or new_status
        if check_first and _queued_already(order=order, kind=kind, event=event):
            return
        parcels = _parcels(order, shipments)
        _queue(order=order, kind=kind, event=event, extra={"parcels": parcels, "partial": partial})
    elif kind == Kind.READY_FOR_PICKUP:
        _queue(order=order, kind=kind, event=new_status, extra={"pickup": _pickup(order)})
    else:
        _queue(order=order, kind=kind, event=new_status)


def order_notify_parcels_shipped(*, order: Order) -> None:
    """Tell the customer about parcels that left while the order's status did not change (a second partial
    shipment of an order already partially shipped). The shipping hand-over calls it after its parcels
    are marked handed over; parcels already told are not told again (the dedup key is the parcel set)."""
    order = _fresh(order)
    if order.status in (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED):
        order_notify_status(order=order, old_status=order.status, new_status=order.status, check_first=False)


def notify_delay(*, order: Order, old_latest, new_latest) -> None:
    """The promise slips (re-sourcing, a late replenishment): tell the customer the new latest date. Call
    it inside the transaction that changed the promise. Nothing is sent when the date did not move later."""
    if new_latest is None or (old_latest is not None and new_latest <= old_latest):
        return
    order = _fresh(order)
    with translation.override(order.customer.language or settings.LANGUAGE_CODE):
        date_text = formats.date_format(new_latest, "SHORT_DATE_FORMAT")
    _queue(
        order=order,
        kind=Kind.DELAY,
        event=new_latest.isoformat(),
        extra={"old_latest": old_latest, "new_latest": new_latest},
        sms_params={"date": date_text},
    )


def notify_return_accepted(*, order: Order, return_reference: str, label_url: str = "") -> None:
    """The return is accepted; ``label_url`` is the prepaid return label (empty for a return in store)."""
    _queue(
        order=_fresh(order),
        kind=Kind.RETURN_ACCEPTED,
        event=return_reference,
        extra={"reference": return_reference, "label_url": label_url},
    )


def notify_refund_issued(*, order: Order, credit_note_number: str, amount: Decimal) -> None:
    """The refund is issued with its credit note (avoir) number and amount incl. VAT."""
    _queue(
        order=_fresh(order),
        kind=Kind.REFUND_ISSUED,
        event=credit_note_number,
        extra={"credit_note_number": credit_note_number, "amount": Decimal(amount)},
    )


def notify_goodwill_refund(*, order: Order, refund_id: int, amount) -> None:
    """An amount given back without units (a commercial gesture): the customer is told how much; the credit
    note is on the tracking page once issued."""
    _queue(
        order=_fresh(order),
        kind=Kind.REFUND_ISSUED,
        event=f"goodwill-{refund_id}",
        extra={"credit_note_number": "", "amount": Decimal(str(amount)), "goodwill": True},
    )


def notify_order_changed(
    *, order: Order, change_id: int, difference: Decimal, cancelled: list | None = None
) -> None:
    """The order was edited or some of its units cancelled: the customer gets its lines, total and promise as
    they are now, and the money difference (to pay, or to be refunded)."""
    order = _fresh(order)
    _queue(
        order=order,
        kind=Kind.ORDER_CHANGED,
        event=f"change-{change_id}",
        extra={
            "lines": _lines(order),
            "difference": Decimal(difference),
            "refund": -Decimal(difference) if Decimal(difference) < 0 else None,
            "cancelled": cancelled or [],
            "pickup": _pickup(order),
        },
    )
