"""Write operations of the channel connectors: connection settings, deliveries (store once, process through
the intake, replay), stock push and fulfilments sent back."""

import hashlib
import json
import logging
import re
from datetime import timedelta

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common import jobs
from common.audit import Action, audit_saved, audit_snapshot
from common.cache import cache_delete
from common.exceptions import DomainError
from common.text import bad_character, find_bad_text, safe_data, safe_text
from inventory.models import Product
from inventory.selectors import availability

from ..exceptions import DuplicateOrder, InvalidTransition, MalformedPayload
from ..models import Channel, Order, OrderStatus
from ..services.events import event_add
from ..services.intake import order_create
from ..services.lifecycle import order_cancel
from ..services.sourcing import channel_location_ids
from . import prestashop, shopify, woocommerce
from .feed import CursorExpired, CursorInvalid, changes_read, cursor_now
from .http import ChannelError
from .models import ChannelConnection, ChannelFulfillment, ChannelListing, WebhookDelivery

logger = logging.getLogger(__name__)

Kind = Channel.Kind
Status = WebhookDelivery.Status
PUSH_DEBOUNCE_SECONDS = 5
SAFE_TO_EDIT = {OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK}
CONNECTION_FIELDS = (
    "base_url",
    "api_version",
    "remote_location_id",
    "push_stock",
    "poll_orders",
    "delivery_modes",
    "cancelled_states",
)


class PushBusy(Exception):
    """Another push for this channel is running: the task tries again a little later."""


# --- Connection ------------------------------------------------------------------------------------------


def connection_get(*, channel: Channel) -> ChannelConnection:
    connection, _created = ChannelConnection.objects.get_or_create(channel=channel)
    return connection


@transaction.atomic
def connection_save(*, channel: Channel, data: dict) -> ChannelConnection:
    """Save a channel's connection. Secrets are write-only: a blank one keeps the stored value;
    ``clear_<name>`` in ``data`` erases it."""
    connection = ChannelConnection.objects.select_for_update().get(pk=connection_get(channel=channel).pk)
    before = audit_snapshot(connection, fields=(*CONNECTION_FIELDS, *ChannelConnection.SECRET_FIELDS))
    for field in CONNECTION_FIELDS:
        if field in data:
            setattr(connection, field, data[field])
    for field in ChannelConnection.SECRET_FIELDS:
        if data.get(f"clear_{field}"):
            setattr(connection, field, "")
        elif data.get(field):
            setattr(connection, field, data[field])
    connection.save()
    # Two entries: the settings, and the secrets (recorded as set / not set / replaced, never their values).
    label = str(channel)
    audit_saved(instance=connection, before=before, fields=CONNECTION_FIELDS, target_label=label)
    audit_saved(
        instance=connection,
        before=before,
        fields=ChannelConnection.SECRET_FIELDS,
        action=Action.SECRET_CHANGED,
        target_label=label,
    )
    transaction.on_commit(lambda: cache_delete("channels:pushing-channels"))
    return connection


def _error(connection: ChannelConnection, message: str) -> None:
    ChannelConnection.objects.filter(pk=connection.pk).update(
        last_error=message[:4000], last_error_at=timezone.now()
    )


def import_mapping_save(*, channel: Channel, mapping: dict) -> ChannelConnection:
    connection = connection_get(channel=channel)
    connection.import_mapping = {k: v for k, v in mapping.items() if v}
    connection.save(update_fields=["import_mapping", "updated_at"])
    return connection


# --- Deliveries ------------------------------------------------------------------------------------------


def delivery_receive(
    *, channel: Channel, delivery_id: str, topic: str, body: bytes | str, headers: dict | None = None
) -> tuple[WebhookDelivery, bool]:
    """Store a delivery once (by its id) and queue its processing. Returns (delivery, is_new): a delivery
    seen before is not processed again.

    A body that is not UTF-8 text or holds a NUL character is stored at once as failed
    (``malformed_body``, with the bad bytes replaced by U+FFFD so it can be stored and shown): the channel
    sent it signed, so retrying would bring the same bytes."""
    from .tasks import delivery_process as delivery_process_task

    text, problem = _body_text(body)
    delivery_id = safe_text(delivery_id)[:255]
    existing = WebhookDelivery.objects.filter(channel=channel, delivery_id=delivery_id).first()
    if existing is not None:
        return existing, False
    failed = {}
    if problem:
        failed = {
            "status": Status.FAILED,
            "error_code": "malformed_body",
            "error": problem,
            "processed_at": timezone.now(),
        }
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                channel=channel,
                delivery_id=delivery_id,
                topic=safe_text(topic)[:64],
                headers=safe_data(headers or {}),
                payload=text,
                **failed,
                **({} if problem else {"job_due_at": jobs.due()}),  # processed after commit, or by the sweep
            )
            if not problem:
                jobs.enqueue_on_commit(delivery_process_task, delivery.pk)
    except IntegrityError:  # the same delivery, received twice at the same moment
        return WebhookDelivery.objects.get(channel=channel, delivery_id=delivery_id), False
    return delivery, True


def _body_text(body: bytes | str) -> tuple[str, str]:
    """The body as storable text, and what is wrong with it ("" when nothing)."""
    problem = ""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            body = body.decode("utf-8", errors="replace")
            problem = "The body is not UTF-8 text."
    what = bad_character(body)
    if what:
        return safe_text(body), problem or f"The body contains {what}."
    return body, problem


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Process a failed (or ignored) delivery again, e.g. after the missing product was created."""
    from .tasks import delivery_process as delivery_process_task

    updated = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=[Status.FAILED, Status.IGNORED]
    ).update(status=Status.RECEIVED, error="", error_code="", error_details={}, **jobs.restart_fields())
    if not updated:
        raise InvalidTransition(
            "Only a failed or ignored delivery can be replayed.", details={"status": delivery.status}
        )
    jobs.enqueue_on_commit(delivery_process_task, delivery.pk)
    delivery.refresh_from_db()
    return delivery


def _finish(delivery, *, status, order=None, error_code="", error="", details=None) -> WebhookDelivery:
    delivery.status = status
    delivery.order = order or delivery.order
    delivery.error_code = error_code
    delivery.error = error
    delivery.error_details = details or {}
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "order", "error_code", "error", "error_details", "processed_at"])
    return delivery


def delivery_process(*, delivery_id: int) -> WebhookDelivery:
    """Process a stored delivery through the intake (create), the lifecycle (cancel) or the update rules.
    Safe to run twice: a processed delivery is left alone, and the intake refuses a second order with the
    same external id. Business refusals (unknown SKU, out of stock...) mark it failed for a replay; other
    errors propagate so the task retries. The delivery's job is claimed first (common/jobs.py): one worker
    processes it; a redelivered message finds it done or held and does nothing; a delivery whose worker
    died is taken over by the beat sweep once its lease expires."""
    from ..jobs import DELIVERY

    with jobs.claim(DELIVERY, delivery_id) as job:
        if job is None:
            return WebhookDelivery.objects.get(pk=delivery_id)
        return _process(delivery_id=delivery_id)


def _process(*, delivery_id: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.select_related("channel").get(pk=delivery_id)
    if delivery.status in (Status.PROCESSED, Status.IGNORED):
        return delivery
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    delivery.attempts += 1
    try:
        payload = json.loads(delivery.payload)
    except (ValueError, RecursionError):
        return _finish(
            delivery, status=Status.FAILED, error_code="malformed_json", error="The body is not JSON."
        )
    if not isinstance(payload, dict):
        return _finish(
            delivery,
            status=Status.FAILED,
            error_code="malformed_payload",
            error="The body is JSON but not an object: it is not an order.",
        )
    bad = find_bad_text(payload)
    if bad is not None:
        return _finish(
            delivery,
            status=Status.FAILED,
            error_code="malformed_payload",
            error=f"The string at {bad[0]} contains {bad[1]}.",
            details={"path": bad[0]},
        )
    connection = connection_get(channel=delivery.channel)
    try:
        return _dispatch(delivery=delivery, connection=connection, payload=payload)
    except DomainError as exc:
        return _finish(
            delivery, status=Status.FAILED, error_code=exc.code, error=exc.message, details=exc.details
        )
    except (OperationalError, InterfaceError):
        raise  # the database is away: the task retries with backoff
    except Exception as exc:
        # Anything else is a payload the adapter could not read (or a bug): kept failed with the error for a
        # replay once fixed, never left "received" nor raised to the channel.
        logger.exception("Channel delivery %s could not be processed", delivery.pk)
        return _finish(
            delivery,
            status=Status.FAILED,
            error_code="processing_error",
            error=safe_text(f"The delivery could not be processed: {type(exc).__name__}: {exc}")[:2000],
        )


def _dispatch(*, delivery, connection, payload) -> WebhookDelivery:
    kind = delivery.channel.kind
    topic = delivery.topic
    if kind == Kind.SHOPIFY:
        adapter = shopify
        if topic == "orders/create":
            return _create(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
        if topic == "orders/cancelled":
            return _cancel(
                delivery=delivery,
                external_id=str(payload.get("id", "")),
                reason=str(
                    _("cancelled on Shopify (%(why)s)") % {"why": payload.get("cancel_reason") or "-"}
                ),
            )
        if topic == "orders/updated":
            if payload.get("cancelled_at"):
                return _cancel(
                    delivery=delivery,
                    external_id=str(payload.get("id", "")),
                    reason=str(
                        _("cancelled on Shopify (%(why)s)") % {"why": payload.get("cancel_reason") or "-"}
                    ),
                )
            return _update(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
    elif kind == Kind.WOOCOMMERCE:
        adapter = woocommerce
        external_id = str(payload.get("id", ""))
        status = payload.get("status", "")
        if topic == "order.deleted" or status in woocommerce.CANCEL_STATUSES:
            return _cancel(
                delivery=delivery,
                external_id=external_id,
                reason=str(_("%(status)s on WooCommerce") % {"status": status or "deleted"}),
            )
        if topic in ("order.created", "order.updated", "order.restored"):
            known = Order.objects.filter(channel=delivery.channel, external_id=external_id).exists()
            if known:
                return _update(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
            if status not in woocommerce.IMPORT_STATUSES:
                return _finish(
                    delivery,
                    status=Status.IGNORED,
                    error_code="not_payable_yet",
                    error=f"WooCommerce status {status!r}: taken when it becomes processing or on-hold.",
                )
            return _create(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
    elif kind == Kind.PRESTASHOP:
        adapter = prestashop
        external_id = str(payload.get("id", ""))
        cancelled = {s.strip() for s in connection.cancelled_states.split(",") if s.strip()}
        known = Order.objects.filter(channel=delivery.channel, external_id=external_id).exists()
        if str(payload.get("current_state", "")) in cancelled:
            if not known:
                return _finish(
                    delivery,
                    status=Status.IGNORED,
                    error_code="cancelled_before_import",
                    error="Cancelled on PrestaShop before it was imported.",
                )
            return _cancel(
                delivery=delivery, external_id=external_id, reason=str(_("cancelled on PrestaShop"))
            )
        if known:
            return _update(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
        return _create(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
    return _finish(
        delivery,
        status=Status.IGNORED,
        error_code="unsupported_topic",
        error=f"Topic {topic!r} is not handled for a {kind} channel.",
    )


def _read(adapter, payload: dict, connection) -> tuple:
    """The adapter's reading of the payload. A payload shaped otherwise than the channel documents (a
    string where a list is expected...) is a ``MalformedPayload``: the delivery fails with the reason."""
    try:
        return adapter.order_input(payload, modes=connection.delivery_modes)
    except DomainError:
        raise
    except (
        TypeError,
        AttributeError,
        ValueError,
        KeyError,
        IndexError,
        ArithmeticError,
        RecursionError,
    ) as exc:
        raise MalformedPayload(
            safe_text(f"The order could not be read from the payload ({type(exc).__name__}: {exc}).")[:2000],
            details={"exception": type(exc).__name__},
        ) from exc


def _create(*, delivery, connection, payload, adapter) -> WebhookDelivery:
    data, mapping = _read(adapter, payload, connection)
    delivery.external_id = data.external_id
    WebhookDelivery.objects.filter(pk=delivery.pk).update(external_id=data.external_id)
    channel = delivery.channel

    def stamp(order: Order) -> None:
        event_add(
            order=order,
            code="order.channel_received",
            channel=channel.name,
            reference=adapter.reference(payload),
            delivery=delivery.delivery_id,
            delivery_id=delivery.pk,
            mapping=str(mapping),
        )

    try:
        order = order_create(channel=channel, data=data, source=f"{channel.kind}", on_created=stamp)
    except DuplicateOrder:
        order = Order.objects.get(channel=channel, external_id=data.external_id)
        return _finish(
            delivery,
            status=Status.PROCESSED,
            order=order,
            error_code="duplicate_order",
            error=f"Already imported as {order.number}.",
        )
    return _finish(delivery, status=Status.PROCESSED, order=order)


def _cancel(*, delivery, external_id: str, reason: str) -> WebhookDelivery:
    delivery.external_id = external_id[:100]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(external_id=delivery.external_id)
    order = Order.objects.filter(channel=delivery.channel, external_id=external_id).first()
    if order is None:
        return _finish(
            delivery,
            status=Status.IGNORED,
            error_code="unknown_order",
            error=f"No order {external_id} from this channel: nothing to cancel.",
        )
    if order.status == OrderStatus.CANCELLED:
        return _finish(
            delivery,
            status=Status.PROCESSED,
            order=order,
            error_code="already_cancelled",
            error="Already cancelled.",
        )
    with transaction.atomic():
        order_cancel(order=order, reason=reason)
    return _finish(delivery, status=Status.PROCESSED, order=order)


ADDRESS_FIELDS = {
    "name": "ship_name",
    "company": "ship_company",
    "line1": "ship_line1",
    "line2": "ship_line2",
    "postcode": "ship_postcode",
    "city": "ship_city",
    "country": "ship_country",
    "phone": "ship_phone",
}
# Changing these moves the parcel elsewhere: sourcing and the promise would have to run again.
ROUTING_FIELDS = {"postcode", "country", "city"}


def _update(*, delivery, connection, payload, adapter) -> WebhookDelivery:
    """Record on the timeline what the channel changed; apply what is safe (the recipient's name, street,
    phone and the note, before picking starts and without moving the destination); say what was not."""
    data, _mapping = _read(adapter, payload, connection)
    delivery.external_id = data.external_id
    WebhookDelivery.objects.filter(pk=delivery.pk).update(external_id=data.external_id)
    order = Order.objects.filter(channel=delivery.channel, external_id=data.external_id).first()
    if order is None:
        return _create(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        applied, refused = {}, {}
        ours: dict[str, int] = {}
        for line in order.lines.all():
            ours[line.sku] = ours.get(line.sku, 0) + line.quantity
        theirs: dict[str, int] = {}
        for line in data.lines:
            theirs[line.sku] = theirs.get(line.sku, 0) + line.quantity
        if ours != theirs:
            refused["lines"] = {"before": ours, "after": theirs}
        address = data.delivery.get("address") if data.delivery.get("mode") == order.delivery_mode else None
        if data.delivery.get("mode") != order.delivery_mode:
            refused["delivery_mode"] = {"before": order.delivery_mode, "after": data.delivery.get("mode")}
        if address:
            changes = {
                key: {"before": getattr(order, field), "after": (address.get(key) or "")}
                for key, field in ADDRESS_FIELDS.items()
                if (address.get(key) or "") != getattr(order, field)
                and not (key == "country" and not address.get(key))
            }
            routing = ROUTING_FIELDS & set(changes)
            if changes and order.status in SAFE_TO_EDIT and not routing:
                applied["address"] = changes
            elif changes:
                refused["address"] = changes
        if (data.note or "") != (order.note or "") and data.note:
            applied["note"] = {"before": order.note, "after": data.note}
        if not applied and not refused:
            return _finish(
                delivery,
                status=Status.PROCESSED,
                order=order,
                error_code="no_change",
                error="Nothing that the OMS keeps changed.",
            )
        fields = {}
        for key, change in (applied.get("address") or {}).items():
            fields[ADDRESS_FIELDS[key]] = change["after"]
        if "note" in applied:
            fields["note"] = applied["note"]["after"]
        if fields:
            Order.objects.filter(pk=order.pk).update(**fields, updated_at=timezone.now())
        if applied:
            event_add(
                order=order,
                code="order.channel_update",
                channel=delivery.channel.name,
                applied=applied,
                delivery_id=delivery.pk,
            )
        if refused:
            event_add(
                order=order,
                code="order.channel_update",
                channel=delivery.channel.name,
                refused=refused,
                delivery_id=delivery.pk,
            )
    return _finish(delivery, status=Status.PROCESSED, order=order)


# --- PrestaShop polling ----------------------------------------------------------------------------------

_PRESTASHOP_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def prestashop_poll(*, channel_id: int) -> int:
    """Fetch the orders changed since the cursor, store each version as a delivery (processed by its task),
    move the cursor. Returns how many new deliveries were stored."""
    connection = ChannelConnection.objects.select_related("channel").get(channel_id=channel_id)
    since = connection.order_cursor or timezone.localtime(timezone.now() - timedelta(days=1)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    try:
        orders = prestashop.orders_changed(connection, since=since, until="9999-12-31 23:59:59")
    except ChannelError as exc:
        _error(connection, str(exc))
        raise
    stored = 0
    for order in orders:
        body = json.dumps(order)
        if isinstance(order, dict):
            delivery_id = f"order:{order.get('id')}:{order.get('date_upd')}"
        else:  # not an order: stored all the same, it fails as malformed and is listed
            delivery_id = f"row:{hashlib.sha256(body.encode()).hexdigest()[:32]}"
        _delivery, new = delivery_receive(
            channel=connection.channel, delivery_id=delivery_id, topic="order", body=body
        )
        stored += int(new)
    dates = [
        o["date_upd"]
        for o in orders
        if isinstance(o, dict) and _PRESTASHOP_DATE.fullmatch(str(o.get("date_upd")))
    ]
    cursor = max(dates, default=since) or since
    ChannelConnection.objects.filter(pk=connection.pk).update(
        order_cursor=cursor, last_order_sync_at=timezone.now()
    )
    return stored


# --- Stock push ------------------------------------------------------------------------------------------


def push_schedule() -> None:
    """After a commit that changed availability: one push per channel within the debounce window. The wish
    is written on the channel's connection (its job, ``job_due_at``), not in the cache: a push whose message
    is lost with the broker is queued again by the beat sweep, and a change made while a push runs brings
    the next push forward."""
    from .tasks import stock_push as stock_push_task

    soon = timezone.now() + timedelta(seconds=PUSH_DEBOUNCE_SECONDS)
    not_yet = Q(job_due_at__isnull=True) | Q(job_due_at__gt=soon)  # else a push is already due within 5 s
    wanted = ChannelConnection.objects.filter(not_yet, push_stock=True, channel__active=True)
    for pk, channel_id in wanted.values_list("pk", "channel_id"):
        if ChannelConnection.objects.filter(not_yet, pk=pk).update(job_due_at=soon):
            jobs.enqueue(stock_push_task, channel_id, countdown=PUSH_DEBOUNCE_SECONDS)


def _key(*parts) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def stock_push(*, channel_id: int, full: bool = False) -> dict:
    """Send the channel's availability of every product changed since the last push (all products when
    ``full`` or when there is no cursor yet), in batches, then move the cursor. One push per channel at a
    time (the connection's job lease, common/jobs.py: ``PushBusy`` while another runs, and a push whose
    worker died is taken over once the lease expires); a push that fails leaves the cursor, so the next one
    sends the same products again (absolute quantities: sending twice is harmless)."""
    from ..jobs import STOCK_PUSH

    connection = ChannelConnection.objects.filter(channel_id=channel_id).only("pk").first()
    if connection is None:
        return {"pushed": 0, "skipped": 0}
    with jobs.claim(STOCK_PUSH, connection.pk) as job:
        if job is None:
            if ChannelConnection.objects.filter(STOCK_PUSH.pending, pk=connection.pk).exists():
                raise PushBusy(channel_id)
            return {"pushed": 0, "skipped": 0}  # the channel does not push stock (any more)
        connection = ChannelConnection.objects.select_related("channel").get(pk=connection.pk)
        return _push(connection=connection, full=full)


def _push(*, connection: ChannelConnection, full: bool) -> dict:
    try:
        start = connection.stock_cursor
        product_ids: list[int] = []
        if full or not start:
            cursor = cursor_now()  # taken before reading availability: later changes come next time
            product_ids = list(
                Product.objects.filter(active=True).order_by("pk").values_list("pk", flat=True)
            )
        else:
            try:
                cursor, more = start, True
                while more and len(product_ids) < 20_000:
                    ids, cursor, more = changes_read(cursor=cursor, limit=2000)
                    product_ids.extend(i for i in ids if i not in product_ids)
            except (CursorExpired, CursorInvalid):
                cursor = cursor_now()
                product_ids = list(Product.objects.filter(active=True).values_list("pk", flat=True))
        result = _push_products(connection=connection, product_ids=product_ids, window=start)
        ChannelConnection.objects.filter(pk=connection.pk).update(
            stock_cursor=cursor, last_stock_push_at=timezone.now(), last_error=""
        )
        return result
    except ChannelError as exc:
        _error(connection, f"Stock push: {exc} {exc.body}".strip())
        raise


def _push_products(*, connection, product_ids: list[int], window) -> dict:
    channel = connection.channel
    if not product_ids:
        return {"pushed": 0, "skipped": 0}
    skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku"))
    listings = {
        listing.product_id: listing
        for listing in ChannelListing.objects.filter(channel=channel, product_id__in=skus)
    }
    missing = [skus[p] for p in skus if p not in listings]
    if missing:
        by_sku = {sku: pk for pk, sku in skus.items()}
        if channel.kind == Kind.SHOPIFY:
            found = {sku: (gid, {}) for sku, gid in shopify.inventory_items(connection, missing).items()}
        elif channel.kind == Kind.WOOCOMMERCE:
            found = {sku: (pid, {}) for sku, pid in woocommerce.products_by_sku(connection, missing).items()}
        elif channel.kind == Kind.PRESTASHOP:
            found = {
                sku: (str(row["id"]), row)
                for sku, row in prestashop.stock_availables(connection, missing).items()
            }
        else:
            found = {}
        for sku, (remote_id, extra) in found.items():
            listing, _created = ChannelListing.objects.update_or_create(
                channel=channel, product_id=by_sku[sku], defaults={"remote_id": remote_id, "extra": extra}
            )
            listings[listing.product_id] = listing
    avail = availability(
        skus=[skus[p] for p in listings],
        location_ids=channel_location_ids(channel=channel),
        safety_buffer=channel.safety_buffer,
    )
    rows = [(listings[p], avail[skus[p]].available) for p in sorted(listings) if skus[p] in avail]
    batch = {Kind.SHOPIFY: shopify.BATCH, Kind.WOOCOMMERCE: woocommerce.BATCH}.get(channel.kind, 50)
    for index in range(0, len(rows), batch):
        chunk = rows[index : index + batch]
        if channel.kind == Kind.SHOPIFY:
            values = [(listing.remote_id, quantity) for listing, quantity in chunk]
            shopify.stock_set(connection, values, key=_key(channel.pk, window, index, values))
        elif channel.kind == Kind.WOOCOMMERCE:
            woocommerce.stock_set(connection, [(listing.remote_id, quantity) for listing, quantity in chunk])
        elif channel.kind == Kind.PRESTASHOP:
            prestashop.stock_set(connection, [(listing.extra, quantity) for listing, quantity in chunk])
        now = timezone.now()
        for listing, quantity in chunk:
            ChannelListing.objects.filter(pk=listing.pk).update(
                last_pushed_quantity=quantity, last_pushed_at=now
            )
    return {"pushed": len(rows), "skipped": len(skus) - len(rows)}


# --- Fulfilments sent back -------------------------------------------------------------------------------


def fulfilment_send(*, order_id: int) -> int:
    """Report the order's parcels that left (with their tracking numbers) to the channel, each once.
    Returns how many were reported now."""
    from shipping.models import Shipment

    order = Order.objects.select_related("channel").get(pk=order_id)
    channel = order.channel
    if channel.kind not in (Kind.SHOPIFY, Kind.WOOCOMMERCE):
        return 0
    connection = connection_get(channel=channel)
    sent = 0
    shipments = (
        Shipment.objects.filter(order=order)
        .exclude(status=Shipment.Status.CANCELLED)
        .exclude(tracking_number="")
        .select_related("service__carrier")
        .prefetch_related("lines")
        .order_by("pk")
    )
    for shipment in shipments:
        record, _created = ChannelFulfillment.objects.get_or_create(channel=channel, shipment=shipment)
        if record.state == ChannelFulfillment.State.DONE:
            continue
        carrier = shipment.service.carrier.name if shipment.service_id else ""
        try:
            if channel.kind == Kind.SHOPIFY:
                remote = shopify.fulfil(
                    connection,
                    order_id=order.external_id,
                    items=[(line.sku, line.quantity) for line in shipment.lines.all()],
                    tracking={"company": carrier, "numbers": [shipment.tracking_number]},
                )
            else:
                remote = woocommerce.order_shipped(
                    connection,
                    order_id=order.external_id,
                    note=f"{carrier} {shipment.tracking_number} ({shipment.number})".strip(),
                    marker=shipment.tracking_number,
                    complete=order.status == OrderStatus.SHIPPED,
                )
        except ChannelError as exc:
            ChannelFulfillment.objects.filter(pk=record.pk).update(
                state=ChannelFulfillment.State.FAILED, error=f"{exc} {exc.body}".strip()
            )
            _error(connection, f"Fulfilment of {order.number}: {exc}")
            continue
        ChannelFulfillment.objects.filter(pk=record.pk).update(
            state=ChannelFulfillment.State.DONE, remote_id=remote or "", error="", sent_at=timezone.now()
        )
        event_add(
            order=order,
            code="order.channel_fulfilment",
            parcel=shipment.number,
            tracking=shipment.tracking_number,
            channel=channel.name,
            shipment=shipment.pk,
            remote_id=remote or "",
        )
        sent += 1
    return sent
