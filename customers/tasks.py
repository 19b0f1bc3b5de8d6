"""Celery tasks of the customers app: sending the notification outbox (queue ``notifications``)."""

from celery import shared_task

from . import services


@shared_task(name="customers.send_notification", queue="notifications", acks_late=True, ignore_result=True)
def send_notification(notification_id: int) -> str:
    """Send one message; safe to run twice (the row is claimed first, a sent row is skipped). Failures are
    recorded on the row and retried by beat with backoff, not by Celery."""
    return services.notification_send(notification_id=notification_id)


@shared_task(name="customers.dispatch_due_notifications", queue="notifications", acks_late=True)
def dispatch_due_notifications() -> int:
    """Beat, every minute: queue the messages still unsent (broker or mail outage, dead worker)."""
    return services.notifications_dispatch_due()
