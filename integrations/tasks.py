"""Celery tasks of the integrations (queue ``notifications``: emails, SMS, webhooks). Thin: each calls a
service; each is safe to run twice (the job's claim or the push lease decides)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

RETRY = {"retry_backoff": 5, "retry_backoff_max": 300, "max_retries": 5, "retry_jitter": True}


@shared_task(
    name="integrations.webhook_deliver",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    **RETRY,
)
def webhook_deliver(delivery_id: int) -> str:
    from .webhooks.sending import delivery_send

    return delivery_send(delivery_id)


@shared_task(name="integrations.endpoint_disabled_notice", acks_late=True, ignore_result=True)
def endpoint_disabled_notice(endpoint_id: int) -> bool:
    from .jobs import endpoint_disabled_notice as notice

    return notice(endpoint_id)


@shared_task(name="integrations.hubspot_push", acks_late=True, ignore_result=True)
def hubspot_push() -> dict:
    """Push what changed to HubSpot; when HubSpot asks to wait (429) or more is left, queue itself again."""
    from common import jobs

    from .hubspot.sync import hubspot_push as push

    result = push()
    if result.get("retry_in") is not None:
        jobs.enqueue(hubspot_push, queue="notifications", countdown=max(result["retry_in"], 1))
    return result


@shared_task(name="integrations.hubspot_push_sweep", ignore_result=True)
def hubspot_push_sweep() -> dict | None:
    """Beat, every minute: a push when something waits (a lost message, a failed batch to try again)."""
    from .models import HubspotRecord

    if not HubspotRecord.objects.filter(dirty_at__isnull=False).exists():
        return None
    return hubspot_push()
