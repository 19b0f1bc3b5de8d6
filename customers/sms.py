"""Text-message adapters. ``settings.SMS_BACKEND`` names the class; a provider's adapter (Brevo, Twilio,
OVHcloud...) implements ``send`` with its HTTP API, a timeout, and raises ``SmsError`` on failure."""

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider refused or could not be reached. ``permanent`` errors (an invalid number) are not
    retried."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str, reference: str) -> str:
        """Send ``text`` to the phone number ``to``; return the provider's message id. ``reference`` is
        ours (the notification's), passed to providers that deduplicate on it."""


class LogBackend:
    """Writes the message to the log instead of sending it (development, demo, and until a provider is
    configured)."""

    def send(self, *, to: str, text: str, reference: str) -> str:
        logger.info("SMS to %s (%s): %s", to, reference, text)
        return f"log-{reference}"


# Messages "sent" by LocmemBackend, like django.core.mail.outbox (tests).
outbox: list[dict] = []


class LocmemBackend:
    def send(self, *, to: str, text: str, reference: str) -> str:
        outbox.append({"to": to, "text": text, "reference": reference})
        return f"locmem-{len(outbox)}"


def get_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
