"""Write operations of the channel connectors: connection settings, deliveries (store once, process through
the intake, replay), stock push and fulfilments sent back."""

import functools
import hashlib
import json
import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from common import jobs
from common.audit import Action, audit_saved, audit_snapshot
from common.cache import CACHE_ERRORS, cache_delete
from common.exceptions import DomainError
from common.text import bad_character, find_bad_text, safe_data, safe_text
from inventory.models import Product
from inventory.selectors import availability
from orders.exceptions import DuplicateOrder, InvalidTransition, MalformedPayload
from orders.locks import lock_order
from orders.models import Channel, Order, OrderStatus
from orders.payments.services import payment_update_from_channel
from orders.services.edits import EditInput, order_edit
from orders.services.events import event_add
from orders.services.intake import LineInput, order_create
from orders.services.lifecycle import order_cancel
from orders.services.sourcing import channel_location_ids

from . import adjustments, amazon, mirakl, prestashop, shopify, woocommerce
from .feed import CursorExpired, CursorInvalid, changes_read, cursor_now
from .http import ChannelError, ChannelUnavailable
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
    "marketplace_id",
    "seller_id",
    "sandbox",
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
    *,
    channel: Channel | None = None,
    channel_id: int | None = None,
    delivery_id: str,
    topic: str,
    body: bytes | str,
    headers: dict | None = None,
    process: bool = True,
) -> tuple[WebhookDelivery, bool]:
    """Store a delivery once (by its id) for ``channel`` (or ``channel_id``) and have it processed. Returns
    (delivery, is_new): a delivery seen before is not processed again.

    The hand-off to the workers is ``deliveries_kick`` after commit: the row is already stored, due for the
    sweep (``job_due_at``) should every message be lost, and one kick makes a worker process every new
    delivery (``deliveries_process_new``), so a burst costs the broker one message, not one per delivery.

    A body that is not UTF-8 text or holds a NUL character is stored at once as failed
    (``malformed_body``, with the bad bytes replaced by U+FFFD so it can be stored and shown): the channel
    sent it signed, so retrying would bring the same bytes."""
    channel_id = channel.pk if channel is not None else channel_id
    text, problem = _body_text(body)
    delivery_id = safe_text(delivery_id)[:255]
    failed = {}
    if problem:
        failed = {
            "status": Status.FAILED,
            "error_code": "malformed_body",
            "error": problem,
            "processed_at": timezone.now(),
        }
    delivery = WebhookDelivery(
        channel_id=channel_id,
        delivery_id=delivery_id,
        topic=safe_text(topic)[:64],
        headers=safe_data(headers or {}),
        payload=text,
        **failed,
        **({} if problem else {"job_due_at": jobs.due()}),  # processed after commit, or by the sweep
    )
    if channel is not None:
        delivery.channel = channel
    if not _insert_once(delivery):  # seen before (a channel's retry), or received twice at the same moment
        return WebhookDelivery.objects.get(channel_id=channel_id, delivery_id=delivery_id), False
    if not problem and process:  # else the poller takes it (``deliveries_take``), or the sweep
        transaction.on_commit(functools.partial(deliveries_kick, delivery.pk))
    return delivery, True


# --- The hand-off of new deliveries to the workers ---------------------------------------------------------
#
# A Celery message per delivery cost the accept path ~1 ms of CPU (bench/README.md); instead the web sets a
# flag in Redis (``SET NX``) and publishes one ``channels.deliveries_kick`` only when it set it. The kick's
# task first clears the flag, then processes every delivery stored and never taken
# (``deliveries_process_new``).
# Why nothing waits: a delivery whose web found the flag set was committed before the flag's task cleared
# it, so that task's read (after the clear) sees it; one stored after the clear sets the flag again and
# publishes a new kick. When Redis cannot answer (or the kick is lost), the row is due for the sweep
# (``job_due_at``, common/jobs.py) as before.

KICK_KEY = "channels:deliveries:kick"
KICK_SECONDS = 30  # a flag whose kick was lost (Redis restarted) stops holding back new kicks after this


def deliveries_kick(delivery_pk: int | None = None) -> None:
    """After a delivery's commit: make sure a worker will process it (see above). Never raises."""
    from .tasks import deliveries_kick as kick_task
    from .tasks import delivery_process as delivery_process_task

    if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker (tests, `make run`): the delivery's task runs here
        if delivery_pk is not None:
            jobs.enqueue(delivery_process_task, delivery_pk)
        return
    try:
        first = cache.add(KICK_KEY, 1, KICK_SECONDS)
    except CACHE_ERRORS:
        first = True  # unknown: publish (with Redis away, that fails fast too and the sweep has the row)
    if first and not jobs.enqueue(kick_task):
        cache_delete(KICK_KEY)


def deliveries_process_new(*, batch: int = 20) -> int:
    """The kick's work: every delivery stored and never taken by a worker yet, oldest first, processed one
    by one as its own task would (``delivery_process``, which claims it: a row another worker holds is
    skipped). A delivery whose processing raised is left to its own task (queued here), which retries
    with backoff. When there is more than a batch to do, one more kick is published first, so that
    another worker process shares the backlog (each claims the rows it takes; that one may ask for one
    more in turn). Returns how many were processed here."""
    from .tasks import deliveries_kick as kick_task
    from .tasks import delivery_process as delivery_process_task

    cache_delete(KICK_KEY)  # before reading: see above
    done, last, helped = 0, 0, False
    while True:
        ids = list(
            WebhookDelivery.objects.filter(
                pk__gt=last,
                status=Status.RECEIVED,
                job_due_at__isnull=False,
                job_lease_until__isnull=True,
                job_attempts=0,
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if len(ids) == batch and not helped:
            helped = True
            jobs.enqueue(kick_task)
        for pk in ids:
            try:
                delivery_process(delivery_id=pk)
            except Exception:  # the database away, a bug: its own task retries it with backoff
                logger.exception("Channel delivery %s: processing raised, queued for its own task", pk)
                jobs.enqueue(delivery_process_task, pk)
            done += 1
        if len(ids) < batch:
            return done
        last = ids[-1]


_INSERT_SQL: dict[str, str] = {}  # per database alias: the statement, compiled once


def _insert_once(delivery: WebhookDelivery) -> bool:
    """``INSERT ... ON CONFLICT (channel, delivery id) DO NOTHING RETURNING id``: the webhook's hot path
    stores a delivery in one statement, without a transaction of its own (no read first, no savepoint, and
    a duplicate does not break a caller's transaction). False (``delivery`` unsaved) if it was there.

    The statement is compiled by the ORM once per process (it does not depend on the values); each call
    only converts the values as the compiler would (``pre_save``, ``get_db_prep_save``: JSON,
    ``auto_now_add``)."""
    from django.db import connections, router
    from django.db.models.sql import InsertQuery

    using = router.db_for_write(WebhookDelivery)
    connection = connections[using]
    fields = [f for f in WebhookDelivery._meta.concrete_fields if not f.primary_key]
    sql = _INSERT_SQL.get(using)
    if sql is None:
        query = InsertQuery(WebhookDelivery)
        query.insert_values(fields, [delivery])
        [(sql, _params)] = query.get_compiler(using=using).as_sql()
        table = connection.ops.quote_name
        sql += f" ON CONFLICT ({table('channel_id')}, {table('delivery_id')}) DO NOTHING"
        sql += f" RETURNING {table('id')}"
        _INSERT_SQL[using] = sql
    params = [f.get_db_prep_save(f.pre_save(delivery, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    delivery.pk = row[0]
    delivery._state.adding, delivery._state.db = False, using
    return True


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


def _plain_creation(kind: str, payload: dict, connection) -> tuple[str, object] | None:
    """(external id, adapter) when the delivery is a new order to take as it is, else None (cancellations,
    updates, orders not payable yet or awaiting acceptance go one by one through ``_dispatch``)."""
    if kind == Kind.AMAZON:
        if (
            payload.get("OrderStatus") in amazon.IMPORT_STATUSES
            and payload.get("FulfillmentChannel") != "AFN"
        ):
            return str(payload.get("AmazonOrderId", "")), amazon
    elif kind == Kind.MIRAKL:
        if payload.get("order_state") in mirakl.IMPORT_STATES:
            return str(payload.get("order_id", "")), mirakl
    elif kind == Kind.PRESTASHOP:
        cancelled = {s.strip() for s in connection.cancelled_states.split(",") if s.strip()}
        if str(payload.get("current_state", "")) not in cancelled:
            return str(payload.get("id", "")), prestashop
    return None


def deliveries_take(*, channel_id: int, delivery_ids: list[int]) -> dict:
    """What a poll just stored: the new orders among these deliveries go through the batch intake together
    (``orders/services/batch.py``: one transaction, a fixed number of statements, each order all-or-nothing
    with its own result), every other delivery through its task as before. The deliveries are claimed at
    once (their job lease), so a task or the sweep finds them held; each ends processed with its order, or
    failed with the refusal, replayable."""
    from orders.services.batch import orders_create_batch
    from orders.services.events import events_write, order_event

    from .jobs import DELIVERY
    from .tasks import delivery_process as delivery_process_task

    now = timezone.now()
    until = now + DELIVERY.lease
    WebhookDelivery.objects.filter(
        Q(job_lease_until__isnull=True) | Q(job_lease_until__lte=now),
        pk__in=delivery_ids,
        status=Status.RECEIVED,
    ).update(
        job_lease_until=until,
        job_due_at=until,
        job_attempts=F("job_attempts") + 1,
        attempts=F("attempts") + 1,
    )
    held = list(
        WebhookDelivery.objects.filter(pk__in=delivery_ids, job_lease_until=until, status=Status.RECEIVED)
        .select_related("channel")
        .order_by("pk")
    )
    if not held:
        return {"batch": 0, "one_by_one": 0}
    connection = connection_get(channel=held[0].channel)
    kind = held[0].channel.kind
    candidates, others = [], []
    for delivery in held:
        try:
            payload = json.loads(delivery.payload)
        except (ValueError, RecursionError):
            payload = None
        plain = _plain_creation(kind, payload, connection) if isinstance(payload, dict) else None
        (candidates if plain else others).append((delivery, payload, plain))
    known = set(
        Order.objects.filter(
            channel_id=channel_id, external_id__in=[plain[0] for _d, _p, plain in candidates]
        ).values_list("external_id", flat=True)
    )
    inputs, taken = [], []
    for delivery, payload, (external_id, adapter) in candidates:
        if external_id in known or find_bad_text(payload) is not None:
            others.append((delivery, payload, None))  # an update, or a payload to refuse: one by one
            continue
        try:
            data, mapping = _read(adapter, payload, connection)
        except DomainError as exc:
            _finish(
                delivery, status=Status.FAILED, error_code=exc.code, error=exc.message, details=exc.details
            )
            continue
        WebhookDelivery.objects.filter(pk=delivery.pk).update(external_id=data.external_id[:100])
        inputs.append(data)
        taken.append((delivery, payload, adapter, mapping))
    results = orders_create_batch(channel=held[0].channel, orders=inputs, source=kind) if inputs else []
    stamps = []
    for (delivery, payload, adapter, mapping), result in zip(taken, results, strict=True):
        if result.ok:
            stamps.append(
                order_event(
                    result.order,
                    "order.channel_received",
                    channel=delivery.channel.name,
                    reference=adapter.reference(payload),
                    delivery=delivery.delivery_id,
                    delivery_id=delivery.pk,
                    mapping=str(mapping),
                )
            )
            _finish(delivery, status=Status.PROCESSED, order=result.order)
            if kind == Kind.MIRAKL:
                adjustments.adjustments_mark_before_import(
                    channel=delivery.channel, order=result.order, found=adjustments.mirakl_found(payload)
                )
        elif isinstance(result.error, DuplicateOrder):
            order = Order.objects.filter(
                channel=delivery.channel, external_id=str(result.error.details.get("external_id"))
            ).first()
            _finish(
                delivery,
                status=Status.PROCESSED,
                order=order,
                error_code="duplicate_order",
                error=f"Already imported as {order.number}." if order else result.error.message,
            )
        else:
            exc = result.error
            _finish(
                delivery, status=Status.FAILED, error_code=exc.code, error=exc.message, details=exc.details
            )
    if stamps:
        with transaction.atomic():
            events_write(stamps)
    for delivery, _payload, _plain in others:
        WebhookDelivery.objects.filter(pk=delivery.pk, job_lease_until=until).update(
            job_lease_until=None, job_due_at=now, attempts=F("attempts") - 1
        )
        jobs.enqueue(delivery_process_task, delivery.pk)
    return {"batch": len(inputs), "one_by_one": len(others)}


def delivery_process(*, delivery_id: int) -> WebhookDelivery:
    """Process a stored delivery through the intake (create), the lifecycle (cancel) or the update rules.
    Safe to run twice: a processed delivery is left alone, and the intake refuses a second order with the
    same external id. Business refusals (unknown SKU, out of stock...) mark it failed for a replay; other
    errors propagate so the task retries. The delivery's job is claimed first (common/jobs.py): one worker
    processes it; a redelivered message finds it done or held and does nothing; a delivery whose worker
    died is taken over by the beat sweep once its lease expires."""
    from .jobs import DELIVERY

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
    elif kind == Kind.AMAZON:
        return _dispatch_amazon(delivery=delivery, connection=connection, payload=payload)
    elif kind == Kind.MIRAKL:
        return _dispatch_mirakl(delivery=delivery, connection=connection, payload=payload)
    return _finish(
        delivery,
        status=Status.IGNORED,
        error_code="unsupported_topic",
        error=f"Topic {topic!r} is not handled for a {kind} channel.",
    )


def _dispatch_amazon(*, delivery, connection, payload) -> WebhookDelivery:
    """Amazon's states: Pending orders are not paid yet (nothing reserved, taken when they become Unshipped),
    Canceled ones are cancelled here too, orders fulfilled by Amazon (AFN) are not ours to prepare."""
    external_id = str(payload.get("AmazonOrderId", ""))
    status = str(payload.get("OrderStatus", ""))
    known = Order.objects.filter(channel=delivery.channel, external_id=external_id).exists()
    if status in amazon.CANCEL_STATUSES:
        if not known:
            return _finish(
                delivery,
                status=Status.IGNORED,
                error_code="cancelled_before_import",
                error="Cancelled on Amazon before it was imported.",
            )
        return _cancel(delivery=delivery, external_id=external_id, reason=str(_("cancelled on Amazon")))
    if payload.get("FulfillmentChannel") == "AFN":
        return _finish(
            delivery,
            status=Status.IGNORED,
            error_code="fulfilled_by_amazon",
            error="Fulfilled by Amazon (FBA).",
        )
    if known:
        return _finish(
            delivery, status=Status.PROCESSED, error_code="already_imported", error="Already imported."
        )
    if status not in amazon.IMPORT_STATUSES:
        return _finish(
            delivery,
            status=Status.IGNORED,
            error_code="not_payable_yet",
            error=f"Amazon status {status!r}: taken when it becomes Unshipped.",
        )
    return _create(delivery=delivery, connection=connection, payload=payload, adapter=amazon)


def _mirakl_decide(*, channel, lines: list[dict]) -> tuple[list[str], list[str]]:
    """Which lines waiting for acceptance we can serve now (the channel's availability, its safety buffer
    kept, each SKU's units counted once across lines): (accepted ids, refusals as text)."""
    skus = [str(line.get("offer_sku") or "") for line in lines]
    avail = availability(
        skus=[s for s in skus if s],
        location_ids=channel_location_ids(channel=channel),
        safety_buffer=channel.safety_buffer,
    )
    left = {sku: a.available for sku, a in avail.items()}
    accepted, refused = [], []
    for line, sku in zip(lines, skus, strict=True):
        quantity = int(line.get("quantity") or 0)
        if sku in left and 0 < quantity <= left[sku]:
            left[sku] -= quantity
            accepted.append(str(line["order_line_id"]))
        else:
            refused.append(f"{sku or '?'} × {quantity} ({max(0, left.get(sku, 0))} available)")
    return accepted, refused


def _dispatch_mirakl(*, delivery, connection, payload) -> WebhookDelivery:
    """Mirakl's states: WAITING_ACCEPTANCE lines are accepted or refused by our stock (accepted ones
    reserved first, then OR21 sent); SHIPPING orders accepted elsewhere are taken; CANCELED and REFUSED
    cancel here."""
    external_id = str(payload.get("order_id", ""))
    state = str(payload.get("order_state", ""))
    channel = delivery.channel
    order = Order.objects.filter(channel=channel, external_id=external_id).first()
    if state in mirakl.CANCEL_STATES:
        if order is None:
            return _finish(
                delivery,
                status=Status.IGNORED,
                error_code="cancelled_before_import",
                error=f"{state} on Mirakl.",
            )
        return _cancel(
            delivery=delivery, external_id=external_id, reason=str(_("cancelled on the marketplace"))
        )
    if state == mirakl.ACCEPTANCE:
        waiting = mirakl.lines_to_accept(payload)
        if order is not None:  # a replay after OR21 failed: send the same answer again
            ours = set(order.lines.values_list("sku", flat=True))
            decisions = [(str(x["order_line_id"]), str(x.get("offer_sku")) in ours) for x in waiting]
            mirakl.accept(connection, order_id=external_id, decisions=decisions)
            return _finish(delivery, status=Status.PROCESSED, order=order, error="Acceptance sent again.")
        deadline = parse_datetime(str(payload.get("acceptance_decision_date") or ""))
        if deadline is not None and deadline < timezone.now():
            # past the marketplace's delay: Mirakl refuses it itself; reserving would hold stock for nothing
            return _finish(
                delivery,
                status=Status.IGNORED,
                error_code="acceptance_expired",
                error=f"The acceptance delay ended at {deadline.isoformat()}.",
            )
        accepted, refused = _mirakl_decide(channel=channel, lines=waiting)
        if accepted:
            adapter = _MiraklAccepted(set(accepted))
            try:
                result = _create(delivery=delivery, connection=connection, payload=payload, adapter=adapter)
            except DomainError as exc:  # stock taken meanwhile: nothing reserved, refuse everything
                refused = [f"{exc.message}"]
                accepted, result = [], None
        else:
            result = None
        mirakl.accept(
            connection,
            order_id=external_id,
            decisions=[(str(x["order_line_id"]), str(x["order_line_id"]) in accepted) for x in waiting],
        )
        summary = f"Accepted {len(accepted)} line(s)" + (
            f"; refused: {', '.join(refused)}" if refused else ""
        )
        if result is None:
            return _finish(delivery, status=Status.IGNORED, error_code="refused", error=summary[:2000])
        WebhookDelivery.objects.filter(pk=delivery.pk).update(error=summary[:2000])
        result.error = summary[:2000]
        return result
    if order is not None:
        # the marketplace's cancellations and refunds of some lines, each applied once
        summary = adjustments.adjustments_apply(
            channel=channel, order=order, found=adjustments.mirakl_found(payload), source="mirakl"
        )
        failed = [s for s in summary if " failed: " in s]
        if failed:
            return _finish(
                delivery,
                status=Status.FAILED,
                order=order,
                error_code="adjustment_failed",
                error="; ".join(summary)[:2000],
            )
        return _finish(
            delivery,
            status=Status.PROCESSED,
            order=order,
            error_code="" if summary else "already_imported",
            error="; ".join(summary)[:2000] if summary else state,
        )
    if state in mirakl.IMPORT_STATES:
        result = _create(delivery=delivery, connection=connection, payload=payload, adapter=mirakl)
        if result.order_id:
            adjustments.adjustments_mark_before_import(
                channel=channel, order=result.order, found=adjustments.mirakl_found(payload)
            )
        return result
    return _finish(delivery, status=Status.IGNORED, error_code="not_ours", error=f"Mirakl state {state!r}.")


class _MiraklAccepted:
    """The Mirakl adapter, reading only the lines we accept."""

    def __init__(self, line_ids: set[str]):
        self.line_ids = line_ids

    def order_input(self, payload, *, modes):
        return mirakl.order_input(payload, modes=modes, line_ids=self.line_ids)

    def reference(self, payload):
        return mirakl.reference(payload)


def _store_polled(connection: ChannelConnection, orders: list, delivery_id_of) -> int:
    """Store each polled order version as a delivery (deduplicated by the id ``delivery_id_of`` gives it),
    then hand the new ones to their tasks. A row that is not an object is stored all the same under a hash
    of its bytes: it fails as malformed, is listed with its payload, and the cursor still moves past it.
    Returns how many new deliveries were stored."""
    stored, new_ids = 0, []
    for order in orders:
        body = json.dumps(order)
        if isinstance(order, dict):
            delivery_id = delivery_id_of(order)
        else:
            delivery_id = f"row:{hashlib.sha256(body.encode()).hexdigest()[:32]}"
        delivery, new = delivery_receive(
            channel=connection.channel, delivery_id=delivery_id, topic="order", body=body, process=False
        )
        stored += int(new)
        if new:
            new_ids.append(delivery.pk)
    deliveries_take(channel_id=connection.channel_id, delivery_ids=new_ids)
    return stored


def mirakl_poll(*, channel_id: int) -> int:
    """OR11: the orders updated since the cursor, each version stored as a delivery and processed by its
    task; at most once every ``MIN_POLL_SECONDS`` (Mirakl's documented frequency)."""
    connection = ChannelConnection.objects.select_related("channel").get(channel_id=channel_id)
    now = timezone.now()
    if connection.last_order_sync_at and connection.last_order_sync_at > now - timedelta(
        seconds=mirakl.MIN_POLL_SECONDS
    ):
        return 0
    since = connection.order_cursor or (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        orders = mirakl.orders_updated(connection, since=since)
    except ChannelError as exc:
        _error(connection, f"{exc} {exc.body}".strip())
        raise
    stored = _store_polled(
        connection,
        orders,
        lambda o: f"mirakl:{o.get('order_id')}:{o.get('last_updated_date')}:{o.get('order_state')}",
    )
    cursor = max([since, *(str(o.get("last_updated_date") or "") for o in orders if isinstance(o, dict))])
    ChannelConnection.objects.filter(pk=connection.pk).update(
        order_cursor=cursor[:64], last_order_sync_at=now
    )
    return stored


def amazon_poll(*, channel_id: int) -> int:
    """Fetch the Amazon orders updated since the cursor (every page), store each version as a delivery
    (processed by its task, replayable), move the cursor. Returns how many new deliveries were stored."""
    connection = ChannelConnection.objects.select_related("channel").get(channel_id=channel_id)
    since = connection.order_cursor or (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        orders, cursor = amazon.orders_updated(connection, since=since)
    except ChannelError as exc:
        _error(connection, f"{exc} {exc.body}".strip())
        raise
    stored = _store_polled(
        connection,
        orders,
        lambda o: f"amazon:{o.get('AmazonOrderId')}:{o.get('LastUpdateDate')}:{o.get('OrderStatus')}",
    )
    ChannelConnection.objects.filter(pk=connection.pk).update(
        order_cursor=cursor[:64], last_order_sync_at=timezone.now()
    )
    return stored


def _amazon_items(order: Order) -> dict[str, str]:
    """SKU → Amazon OrderItemId, from the order as Amazon sent it (its processed delivery)."""
    delivery = (
        WebhookDelivery.objects.filter(channel_id=order.channel_id, order=order, status=Status.PROCESSED)
        .order_by("-pk")
        .first()
    )
    try:
        payload = json.loads(delivery.payload) if delivery else {}
    except ValueError:
        payload = {}
    return {str(i.get("SellerSKU")): str(i.get("OrderItemId")) for i in payload.get("_items") or []}


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
        # the channel's own cancellation: nothing to send back to it (``source``)
        order_cancel(order=order, reason=reason, source=delivery.channel.kind)
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
    if data.payment:  # the money's news (paid, refunded...): the payment hold is cleared once paid
        payment_update_from_channel(order=order, payment=data.payment)
    with transaction.atomic():
        order = lock_order(order.pk)
        applied, refused = {}, {}
        rows = list(order.lines.order_by("line_no"))
        ours: dict[str, int] = {}
        for line in rows:
            if line.quantity:
                ours[line.sku] = ours.get(line.sku, 0) + line.quantity
        theirs: dict[str, int] = {}
        for line in data.lines:
            theirs[line.sku] = theirs.get(line.sku, 0) + line.quantity
        address = data.delivery.get("address") if data.delivery.get("mode") == order.delivery_mode else None
        address_changes = {}
        if address:
            address_changes = {
                key: {"before": getattr(order, field), "after": (address.get(key) or "")}
                for key, field in ADDRESS_FIELDS.items()
                if (address.get(key) or "") != getattr(order, field)
                and not (key == "country" and not address.get(key))
            }
        moves = data.delivery.get("mode") != order.delivery_mode or bool(
            ROUTING_FIELDS & set(address_changes)
        )
        if ours != theirs or moves:
            # Lines or destination changed: an edit (re-sourced, re-promised) while picking has not started.
            edit = _edit_from_channel(rows=rows, theirs=theirs, data=data, moves=moves)
            try:
                change = order_edit(order=order, edit=edit, source=delivery.channel.kind)
            except DomainError as exc:
                if ours != theirs:
                    refused["lines"] = {"before": ours, "after": theirs}
                if data.delivery.get("mode") != order.delivery_mode:
                    refused["delivery_mode"] = {
                        "before": order.delivery_mode,
                        "after": data.delivery.get("mode"),
                    }
                elif address_changes:
                    refused["address"] = address_changes
                refused["reason"] = exc.message
            else:
                applied["edit"] = {"change": change.pk, "difference": str(change.difference)}
                if moves:  # the edit took the whole new delivery
                    address_changes = {}
            order = Order.objects.get(pk=order.pk)
        if address_changes:
            if order.status in SAFE_TO_EDIT:
                applied["address"] = address_changes
            else:
                refused["address"] = address_changes
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


def _edit_from_channel(*, rows, theirs: dict[str, int], data, moves: bool) -> EditInput:
    """The edit that makes our lines the channel's: each SKU's first line takes the channel's quantity (its
    other lines 0), SKUs new to the order are added at the channel's price; the delivery when it moved."""
    quantities: dict[int, int] = {}
    seen: set[str] = set()
    for row in rows:
        wanted = 0 if row.sku in seen else theirs.get(row.sku, 0)
        seen.add(row.sku)
        if wanted != row.quantity:
            quantities[row.line_no] = wanted
    prices = {line.sku: line.unit_price for line in data.lines}
    add = [
        LineInput(sku=sku, quantity=quantity, unit_price=prices.get(sku))
        for sku, quantity in theirs.items()
        if sku not in seen
    ]
    return EditInput(
        quantities=quantities,
        add=add,
        delivery=data.delivery if moves else None,
        shipping_fee=data.shipping_fee,
        reason="channel update",
    )


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
    stored = _store_polled(connection, orders, lambda o: f"order:{o.get('id')}:{o.get('date_upd')}")
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
    from .jobs import STOCK_PUSH

    connection = (
        ChannelConnection.objects.filter(channel_id=channel_id)
        .select_related("channel")
        .only("pk", "last_stock_push_at", "channel__kind")
        .first()
    )
    if connection is None:
        return {"pushed": 0, "skipped": 0}
    if connection.channel.kind == Kind.MIRAKL and connection.last_stock_push_at:
        # OF01's documented frequency (one offers import every 5 minutes): not an outage, the push stays
        # due and the sweep sends it when the interval is over, with every change made meanwhile.
        allowed = connection.last_stock_push_at + timedelta(seconds=mirakl.MIN_IMPORT_SECONDS)
        if allowed > timezone.now():
            ChannelConnection.objects.filter(pk=connection.pk, push_stock=True).update(job_due_at=allowed)
            return {"pushed": 0, "skipped": 0, "deferred_until": allowed.isoformat()}
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
        elif channel.kind in (Kind.AMAZON, Kind.MIRAKL):
            found = {sku: (sku, {}) for sku in missing}  # listings and offers are addressed by our SKU
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
    batch = {Kind.SHOPIFY: shopify.BATCH, Kind.WOOCOMMERCE: woocommerce.BATCH, Kind.MIRAKL: 10_000}.get(
        channel.kind, 50
    )
    for index in range(0, len(rows), batch):
        chunk = rows[index : index + batch]
        if channel.kind == Kind.SHOPIFY:
            values = [(listing.remote_id, quantity) for listing, quantity in chunk]
            shopify.stock_set(connection, values, key=_key(channel.pk, window, index, values))
        elif channel.kind == Kind.WOOCOMMERCE:
            woocommerce.stock_set(connection, [(listing.remote_id, quantity) for listing, quantity in chunk])
        elif channel.kind == Kind.PRESTASHOP:
            prestashop.stock_set(connection, [(listing.extra, quantity) for listing, quantity in chunk])
        elif channel.kind == Kind.AMAZON:
            refused = amazon.quantities_set(
                connection, [(listing.remote_id, quantity) for listing, quantity in chunk]
            )
            if refused:
                _error(connection, "Stock push: Amazon has no listing for " + ", ".join(refused[:20]))
        elif channel.kind == Kind.MIRAKL:
            last = ChannelConnection.objects.filter(pk=connection.pk).values_list(
                "last_stock_push_at", flat=True
            )[0]
            if last and last > timezone.now() - timedelta(seconds=mirakl.MIN_IMPORT_SECONDS):
                # OF01's documented frequency: the push stays due and runs again after the interval
                raise ChannelUnavailable("Mirakl OF01: one offers import every 5 minutes at most.")
            mirakl.offers_quantities(
                connection, [(listing.remote_id, quantity) for listing, quantity in chunk]
            )
        now = timezone.now()
        for listing, quantity in chunk:
            ChannelListing.objects.filter(pk=listing.pk).update(
                last_pushed_quantity=quantity, last_pushed_at=now
            )
    return {"pushed": len(rows), "skipped": len(skus) - len(rows)}


# --- Fulfilments sent back -------------------------------------------------------------------------------


FULFILMENT_KINDS = (Kind.SHOPIFY, Kind.WOOCOMMERCE, Kind.AMAZON, Kind.MIRAKL)
FULFILMENT_LEASE_SECONDS = 300  # longer than the channel's calls for one order's parcels
FULFILMENT_SWEEP_DAYS = 3  # parcels that left since then and are not reported yet are sent again


def fulfilment_send(*, order_id: int) -> int:
    """Report the order's parcels that left (with their tracking numbers) to the channel, each once.
    Returns how many were reported now. One sender per order at a time (a named lease): the message queued
    by the event consumer and the beat sweep's (``fulfilment_sweep``) may arrive together."""
    with jobs.lease(f"channels.fulfilment:{order_id}", seconds=FULFILMENT_LEASE_SECONDS) as held:
        if not held:
            return 0
        return _fulfilment_send(order_id=order_id)


def fulfilment_pending_order_ids(*, limit: int = 500) -> list[int]:
    """Orders of Shopify and WooCommerce channels whose parcels left recently (with a tracking number) and
    are not reported to the channel yet (never tried, lost with the broker, or failed). Parcels still with
    the carrier only: the set the tracking poll reads too (its index on status), not the whole history."""
    from shipping.models import Shipment

    since = timezone.now() - timedelta(days=FULFILMENT_SWEEP_DAYS)
    return list(
        Shipment.objects.filter(
            status__in=Shipment.IN_FLIGHT,
            order__channel__kind__in=FULFILMENT_KINDS,
            order__channel__active=True,
            shipped_at__gte=since,
        )
        .exclude(tracking_number="")
        .exclude(channel_fulfillment__state=ChannelFulfillment.State.DONE)
        .order_by("order_id")
        .values_list("order_id", flat=True)
        .distinct()[:limit]
    )


def fulfilment_sweep() -> int:
    """Beat: queue the sending again for every order whose parcels are not reported yet (the consumer's
    message was lost with the broker, or the channel refused or did not answer). Returns how many."""
    from .tasks import fulfilment_send as fulfilment_send_task

    order_ids = fulfilment_pending_order_ids()
    for order_id in order_ids:
        jobs.enqueue(fulfilment_send_task, order_id)
    return len(order_ids)


def _fulfilment_send(*, order_id: int) -> int:
    from shipping.models import Shipment

    order = Order.objects.select_related("channel").get(pk=order_id)
    channel = order.channel
    if channel.kind not in FULFILMENT_KINDS:
        return 0
    items = _amazon_items(order) if channel.kind == Kind.AMAZON else {}
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
            if channel.kind == Kind.AMAZON:
                amazon.confirm_shipment(
                    connection,
                    order_id=order.external_id,
                    package_id=shipment.pk,
                    carrier=shipment.service.carrier.code if shipment.service_id else "",
                    tracking=shipment.tracking_number,
                    ship_date=(shipment.shipped_at or timezone.now()).isoformat(),
                    items=[(items.get(line.sku, ""), line.quantity) for line in shipment.lines.all()],
                )
                remote = str(shipment.pk)
            elif channel.kind == Kind.MIRAKL:
                remote = mirakl.order_shipped(
                    connection,
                    order_id=order.external_id,
                    carrier=shipment.service.carrier.code if shipment.service_id else "",
                    carrier_name=carrier,
                    tracking=shipment.tracking_number,
                    tracking_url=shipment.tracking_url,
                    complete=order.status == OrderStatus.SHIPPED,
                )
            elif channel.kind == Kind.SHOPIFY:
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
