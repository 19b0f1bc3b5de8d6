"""The interface every e-invoicing platform adapter implements, its data types and its errors.

An adapter sends a document (Factur-X PDF or UBL XML), a status of ours ("collected", code 212) or an
e-report, and tells the lifecycle statuses of what was sent, both by polling (``poll``, from a cursor the
caller keeps) and by webhook (``parse_webhook`` checks the signature and reads the call). Nothing here
touches the database: the services in ``invoicing/services/transmission.py`` keep the state, so an adapter
is called from a Celery task and tested against recorded answers of the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class PlatformError(Exception):
    """A platform call failed; ``message`` is the platform's own words when it gave some."""

    retryable = False

    def __init__(self, message: str, *, platform: str = "", code: str = "", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"[{self.platform}] {self.message}" if self.platform else self.message


class RetryablePlatformError(PlatformError):
    """Try again later: the platform is down, slow, or asks us to wait (429)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentPlatformError(PlatformError):
    """The platform refused the request itself (invalid file, unknown recipient…): sending it again as it is
    cannot succeed."""


class PlatformNotConfigured(PermanentPlatformError):
    """The platform's credentials are missing from the settings."""


class NotSupported(PermanentPlatformError):
    """This platform does not offer the operation through its public API."""


class WebhookRejected(PermanentPlatformError):
    """A webhook call whose signature is wrong or whose body cannot be read: answer 4xx."""


@dataclass(frozen=True)
class OutgoingDocument:
    """An e-invoice to send. ``syntax`` is "facturx" (``content`` is the PDF) or "ubl" (the XML)."""

    external_id: str
    number: str
    type_code: str
    treatment: str
    syntax: str
    filename: str
    content: bytes
    seller_siren: str
    buyer_siren: str = ""
    buyer_siret: str = ""
    service_code: str = ""
    purchase_order: str = ""

    @property
    def content_type(self) -> str:
        return "application/pdf" if self.syntax == "facturx" else "application/xml"


@dataclass(frozen=True)
class StatusUpdate:
    """A lifecycle status of a document the platform holds (``platform_ref``): ``code`` is one of
    ``invoicing.models.LifecycleCode`` ("200"…"213")."""

    platform_ref: str
    code: str
    at: datetime
    reason: str = ""
    event_id: str = ""


@dataclass(frozen=True)
class SendResult:
    platform_ref: str
    updates: list[StatusUpdate] = field(default_factory=list)


@dataclass(frozen=True)
class PollResult:
    updates: list[StatusUpdate]
    cursor: str


@dataclass(frozen=True)
class CollectedAmount:
    """What was collected at one VAT rate (the "encaissée" status carries the amounts per rate)."""

    amount: str
    vat_rate: str
    paid_on: date


class PlatformAdapter:
    code = ""
    name = ""
    supports_webhook = False
    supports_ereporting = False

    def __init__(self, *, config: Mapping | None = None, client: httpx.Client | None = None):
        self.config = dict(config or {})
        self._client = client

    # Operations ------------------------------------------------------------------------------------------

    def send_document(self, document: OutgoingDocument) -> SendResult:
        raise NotImplementedError

    def lookup(self, external_id: str) -> str | None:
        """The platform's reference of an earlier sending made with ``external_id``, or None (unknown, or the
        platform cannot tell). Called before sending again what a lost worker may have sent already."""
        return None

    def poll(self, *, cursor: str, pending_refs: list[str]) -> PollResult:
        raise self.unsupported("polling")

    def send_status(
        self, *, platform_ref: str, code: str, amounts: list[CollectedAmount], external_id: str
    ) -> str:
        raise self.unsupported("sending statuses")

    def send_ereport(self, *, payload: dict, external_id: str) -> str:
        raise self.unsupported("e-reporting")

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        raise self.unsupported("webhooks")

    # Helpers ---------------------------------------------------------------------------------------------

    def unsupported(self, what: str) -> NotSupported:
        return NotSupported(
            f"{self.name} does not offer {what} in its public API.", platform=self.code, code="not_supported"
        )

    def require(self, *names: str) -> list[str]:
        missing = [name for name in names if not self.config.get(name)]
        if missing:
            raise PlatformNotConfigured(
                f"{self.name}: set {', '.join(missing)} in the settings.",
                platform=self.code,
                code="not_configured",
            )
        return [self.config[name] for name in names]

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=DEFAULT_TIMEOUT, headers={"User-Agent": "oms/1.0"})
        return self._client

    def request(
        self, method: str, url: str, *, ok=(200, 201), error_message=None, **kwargs
    ) -> httpx.Response:
        """One HTTP call: network errors, timeouts, 5xx, 408 and 429 are retryable; another status outside
        ``ok`` is a permanent refusal carrying the platform's message."""
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryablePlatformError(f"{self.name} did not answer in time.", platform=self.code) from exc
        except httpx.HTTPError as exc:
            raise RetryablePlatformError(
                f"{self.name} could not be reached: {exc}", platform=self.code
            ) from exc
        if response.status_code in ok:
            return response
        message = ""
        if error_message is not None:
            try:
                message = error_message(response) or ""
            except ValueError:
                message = ""
        message = message or " ".join(response.text.split())[:300] or f"HTTP {response.status_code}"
        retry_after = None
        try:
            retry_after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            pass
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise RetryablePlatformError(
                message, platform=self.code, status=response.status_code, retry_after=retry_after
            )
        raise PermanentPlatformError(message, platform=self.code, status=response.status_code)
