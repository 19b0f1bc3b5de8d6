"""The payment-provider interface: capture an authorised payment (when the order ships), refund part of a
payment (when a credit note is issued), void an authorisation nothing will be captured from (the order
cancelled before it shipped), and charge an amount more with the means of an earlier payment (a dearer
exchange's difference). Every call carries an idempotency key, so the same movement asked
twice (a task retried after a timeout) is made once by the provider."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import httpx

TIMEOUT = httpx.Timeout(20.0, connect=5.0)


@dataclass(frozen=True)
class ProviderResult:
    """What the provider answered: its id of the movement, its status ("succeeded", "pending"), the amount."""

    reference: str
    status: str
    amount: Decimal


class ProviderError(Exception):
    """The provider refused (declined, already captured, amount too large, bad key): retrying the same call
    will not help. Stored on the transaction and shown on the order page."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class ProviderUnavailable(Exception):
    """A timeout, a network error, a 5xx or a 429: the task retries with backoff."""


class PaymentProvider(Protocol):
    code: str

    def capture(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def refund(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def void(
        self, *, payment_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def charge(
        self,
        *,
        payment_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        description: str,
    ) -> ProviderResult: ...


def send(client: httpx.Client, method: str, url: str, *, on_error, **kwargs) -> httpx.Response:
    """Send, and sort failures: ``ProviderUnavailable`` for what a retry may fix, ``on_error(response)``
    (which raises ``ProviderError`` with the provider's message) otherwise."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable(f"Timeout calling {url}.") from exc
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"Network error calling {url}: {exc}.") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderUnavailable(f"{url} answered {response.status_code}.")
    if response.status_code >= 400:
        on_error(response)
        raise ProviderError(f"{method} {url} answered {response.status_code}.", status=response.status_code)
    return response
