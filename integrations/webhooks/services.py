"""Writes of the outbound webhooks: endpoints (register, change, enable, disable, delete), the deliveries a
domain event makes (the consumer's handler), the test event, replays. Sending is ``webhooks/sending.py``."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from common import jobs
from common.models import DomainEvent

from .. import configured
from ..exceptions import EndpointDisabled, InvalidWebhookUrl, UnknownEventType
from ..models import WebhookDelivery, WebhookEndpoint
from . import catalogue
from .addresses import UnsafeUrl, url_check

MAX_ENQUEUED_AT_ONCE = 500  # a bulk replay queues these at once; the sweep queues the rest


def secret_generate() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _clean_events(events) -> list[str]:
    unknown = sorted({e for e in events if e not in catalogue.EVENT_NAMES})
    if unknown:
        raise UnknownEventType(
            _("Unknown event type(s): %(names)s.") % {"names": ", ".join(unknown)},
            details={"events": unknown, "allowed": catalogue.EVENT_NAMES},
        )
    if not events:
        raise UnknownEventType(
            _("Choose at least one event type."), details={"allowed": catalogue.EVENT_NAMES}
        )
    return [name for name in catalogue.EVENT_NAMES if name in set(events)]


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        url_check(url)
    except UnsafeUrl as exc:
        raise InvalidWebhookUrl(str(exc), details={"url": [str(exc)]}) from None
    return url


def endpoint_create(
    *,
    url: str,
    events: list[str],
    secret: str = "",
    description: str = "",
    owner=None,
    contact_email: str = "",
    channel=None,
) -> WebhookEndpoint:
    """Register an endpoint (the secret is generated when none is given)."""
    return WebhookEndpoint.objects.create(
        url=_clean_url(url),
        events=_clean_events(events),
        secret=secret or secret_generate(),
        description=description[:200],
        owner=owner if getattr(owner, "pk", None) else None,
        contact_email=contact_email,
        channel=channel,
    )


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    events: list[str],
    description: str = "",
    secret: str = "",
    contact_email: str = "",
) -> WebhookEndpoint:
    endpoint.url = _clean_url(url)
    endpoint.events = _clean_events(events)
    endpoint.description = description[:200]
    endpoint.contact_email = contact_email
    fields = ["url", "events", "description", "contact_email"]
    if secret:
        endpoint.secret = secret
        fields.append("secret")
    endpoint.save(update_fields=fields)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its log (deliveries not sent yet are dropped)."""
    endpoint.delete()


@transaction.atomic
def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, tell_owner: bool = False) -> bool:
    """Stop sending to the endpoint (its unsent deliveries wait). With ``tell_owner``, its owner is emailed
    (a job). False if it was already disabled."""
    now = timezone.now()
    fields = {"status": WebhookEndpoint.Status.DISABLED, "disabled_at": now, "disabled_reason": reason[:300]}
    if tell_owner:
        fields |= {"owner_notified_at": None, "job_due_at": jobs.due(), "job_attempts": 0}
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, status=WebhookEndpoint.Status.ACTIVE).update(
        **fields
    )
    if changed:
        configured.changed()
    if changed and tell_owner:
        from ..tasks import endpoint_disabled_notice as notice_task

        jobs.enqueue_on_commit(notice_task, endpoint.pk, queue="notifications")
    endpoint.refresh_from_db()
    return bool(changed)


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint) -> int:
    """Send to the endpoint again: its failures are forgotten and its unsent deliveries are queued now, in
    order. Returns how many are queued."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        status=WebhookEndpoint.Status.ACTIVE, disabled_at=None, disabled_reason="", consecutive_failures=0
    )
    configured.changed()
    endpoint.refresh_from_db()
    now = timezone.now()
    unsent = WebhookDelivery.objects.filter(
        endpoint=endpoint, status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]
    )
    ids = list(unsent.order_by("id").values_list("pk", flat=True))
    unsent.update(next_attempt_at=now, job_due_at=now, job_attempts=0)
    _enqueue(ids)
    return len(ids)


def _enqueue(ids: list[int]) -> None:
    from ..tasks import webhook_deliver as deliver_task

    for pk in ids[:MAX_ENQUEUED_AT_ONCE]:
        jobs.enqueue_on_commit(deliver_task, pk, queue="notifications")


# --- Deliveries from the event log ----------------------------------------------------------------------


def _channel_may_see(endpoint: configured.EndpointRoute, event: DomainEvent, order_channels: dict) -> bool:
    """An endpoint registered with a channel's API key hears about that channel's orders and customers only
    (and stock availability, which every channel reads)."""
    if endpoint.channel_id is None or event.code == "stock.availability_changed":
        return True
    if event.order_id is not None:
        if event.order_id not in order_channels:
            from orders.models import Order

            order_channels[event.order_id] = (
                Order.objects.filter(pk=event.order_id).values_list("channel_id", flat=True).first()
            )
        return order_channels[event.order_id] == endpoint.channel_id
    customer_id = (event.payload or {}).get("customer_id")
    if customer_id is not None:
        from orders.models import Order

        return Order.objects.filter(customer_id=customer_id, channel_id=endpoint.channel_id).exists()
    return False


def deliveries_prepare(*, event: DomainEvent) -> list[WebhookDelivery]:
    """The consumer's handler: one delivery row per active endpoint subscribed to the event's type, queued
    after commit (in the consumer's transaction: the rows and the consumer's progress commit together). The
    endpoints come from this process's memory (``integrations/configured.py``): no statement at all when
    none is subscribed."""
    event_type = catalogue.event_type_for(event.code)
    if event_type is None:
        return []
    order_channels: dict = {}
    endpoints = [
        e
        for e in configured.active_endpoints()
        if event_type in e.events and _channel_may_see(e, event, order_channels)
    ]
    if not endpoints:
        return []
    data = catalogue.event_data(event)
    now = timezone.now()
    rows = []
    for endpoint in endpoints:
        delivery_id = uuid.uuid4()
        rows.append(
            WebhookDelivery(
                uuid=delivery_id,
                endpoint_id=endpoint.pk,
                event=event,
                event_type=event_type,
                order_id=event.order_id,
                payload=catalogue.envelope(
                    delivery_id=str(delivery_id),
                    event_type=event_type,
                    created_at=event.created_at,
                    event_id=event.pk,
                    data=data,
                ),
                next_attempt_at=now,
                job_due_at=jobs.due(),
                created_at=now,
            )
        )
    created = WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=False)
    _enqueue([row.pk for row in created])
    return created


def endpoint_send_test(*, endpoint: WebhookEndpoint, actor=None) -> WebhookDelivery:
    """The "send test event" button: a ``webhook.test`` delivery, signed and logged like any other (sent
    even to a disabled endpoint, to check a receiver before enabling it again)."""
    delivery_id = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            uuid=delivery_id,
            endpoint=endpoint,
            event_type=catalogue.TEST_EVENT,
            payload=catalogue.envelope(
                delivery_id=str(delivery_id),
                event_type=catalogue.TEST_EVENT,
                created_at=now,
                event_id=None,
                data={
                    "message": "A test event sent from the OMS to check this endpoint.",
                    "endpoint": endpoint.url,
                    "sent_by": getattr(actor, "username", "") or "",
                },
            ),
            next_attempt_at=now,
            job_due_at=jobs.due(),
            created_at=now,
        )
        _enqueue([delivery.pk])
    return delivery


@transaction.atomic
def deliveries_replay(*, endpoint: WebhookEndpoint, ids: list[int] | None = None) -> int:
    """Send deliveries of the endpoint again, with the same id and body (a receiver that handled one already
    can tell), a fresh retry schedule each; ``ids=None``: every failed one. Returns how many."""
    if not endpoint.is_active:
        raise EndpointDisabled()
    rows = WebhookDelivery.objects.select_for_update().filter(endpoint=endpoint)
    if ids is None:
        rows = rows.filter(status=WebhookDelivery.Status.FAILED)
    else:
        rows = rows.filter(pk__in=ids)
    now = timezone.now()
    # Not one a worker is sending right now (its outcome decides).
    rows = rows.filter(Q(job_lease_until__isnull=True) | Q(job_lease_until__lte=now))
    chosen = list(rows.order_by("id").values_list("pk", "attempts"))
    for pk, attempts in chosen:
        WebhookDelivery.objects.filter(pk=pk).update(
            status=WebhookDelivery.Status.PENDING,
            budget_from=attempts,
            next_attempt_at=now,
            job_due_at=now,
            job_attempts=0,
            job_lease_until=None,
        )
    _enqueue([pk for pk, _a in chosen])
    return len(chosen)


def retry_delay_seconds(failures: int) -> float:
    """Exponential backoff: ``WEBHOOK_RETRY_BASE_SECONDS`` × 2^(failures − 1) (30 s, 1 min, 2 min… 17 h):
    with the default 13 attempts the last one is about 34 hours after the first."""
    base = float(getattr(settings, "WEBHOOK_RETRY_BASE_SECONDS", 30))
    return base * 2 ** max(failures - 1, 0)


def max_attempts() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 13))
