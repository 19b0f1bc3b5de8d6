"""The one place that sends an email for invoicing. The notification outbox being built in ``customers``
will replace this function's body; its callers stay as they are."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives


def send_email(*, to: str, subject: str, body: str, html: str = "", attachments=()) -> None:
    """Send one email now (called from a Celery task only). ``attachments``: (filename, bytes, mimetype)."""
    message = EmailMultiAlternatives(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    if html:
        message.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    message.send(fail_silently=False)
