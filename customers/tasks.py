"""Celery tasks of the customers app: sending the notification outbox (queue ``notifications``)."""

import smtplib

from celery import shared_task

from . import accounts, services


@shared_task(name="customers.send_notification", queue="notifications", acks_late=True, ignore_result=True)
def send_notification(notification_id: int) -> str:
    """Send one message; safe to run twice (the row is claimed first, a sent row is skipped). Failures are
    recorded on the row and retried by beat with backoff, not by Celery."""
    return services.notification_send(notification_id=notification_id)


@shared_task(name="customers.dispatch_due_notifications", queue="notifications", acks_late=True)
def dispatch_due_notifications() -> int:
    """Beat, every minute: queue the messages still unsent (broker or mail outage, dead worker)."""
    return services.notifications_dispatch_due()


@shared_task(
    name="customers.send_account_link",
    queue="notifications",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def send_account_link(request_id: int) -> str:
    """Email a sign-in link (not through the outbox: the link would stay readable in the back office's
    message list while it is valid). Sent at most once per request; retried with backoff on mail errors."""
    return accounts.account_link_deliver(request_id=request_id)
