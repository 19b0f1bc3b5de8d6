"""The adapter interface every carrier implements, its plain data types and its errors.

Nothing here touches the database: inputs and outputs are dataclasses, so an adapter can be called from a
Celery task with what the task loaded, and tested against recorded answers of the carrier."""

from __future__ import annotations

import http.cookiejar
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import httpx

# What an adapter may declare in ``supports``.
LABEL = "label"
LABEL_PDF = "label_pdf"  # the label comes as PDF
LABEL_ZPL = "label_zpl"  # the label comes as ZPL (thermal printers)
CANCEL_LABEL = "cancel_label"
RETURN_LABEL = "return_label"
RELAY_SEARCH = "relay_search"
RELAY_DIRECTORY = "relay_directory"  # can list its whole relay network at once (no search areas needed)
TRACKING = "tracking"
WEBHOOK = "webhook"
CUSTOMS = "customs"  # the label request carries the customs declaration (CN23 / commercial invoice)
LABEL_BRANDING = "label_branding"  # the label has a free area for the merchant's logo or text
CAPABILITIES = frozenset(
    {
        CUSTOMS,
        LABEL_BRANDING,
        LABEL,
        LABEL_PDF,
        LABEL_ZPL,
        CANCEL_LABEL,
        RETURN_LABEL,
        RELAY_SEARCH,
        RELAY_DIRECTORY,
        TRACKING,
        WEBHOOK,
    }
)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)

_shared = threading.local()
_ssl_lock = threading.Lock()
_ssl_context = None


def _tls_context():
    """The process's TLS context, made once: loading the CA bundle costs ~20–90 ms of CPU, and every
    ``httpx.Client`` made its own (one per tracking batch: about 1 ms of CPU per parcel)."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


def shared_client() -> httpx.Client:
    """The HTTP client of this thread, shared by every adapter it makes: its connections are kept alive
    from one call (and one batch) to the next. It keeps no cookies, so no carrier's answer changes the
    next call, as with a client per adapter. A forked process (a prefork pool) makes its own."""
    client, pid = getattr(_shared, "client", None), os.getpid()
    if client is None or _shared.pid != pid:
        jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        client = _shared.client = httpx.Client(
            timeout=DEFAULT_TIMEOUT,
            headers={"User-Agent": "oms/1.0"},
            verify=_tls_context(),
            cookies=jar,
        )
        _shared.pid = pid
    return client


# --- Errors ----------------------------------------------------------------------------------------


class CarrierError(Exception):
    """A carrier call failed. ``message`` is the carrier's own message when it gave one; ``code`` its error
    code (or ours); ``status`` the HTTP status (None for a network error)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        carrier: str = "",
        code: str = "",
        status: int | None = None,
        details: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.carrier = carrier
        self.code = code
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        prefix = f"[{self.carrier}] " if self.carrier else ""
        code = f" ({self.code})" if self.code else ""
        return f"{prefix}{self.message}{code}"


class RetryableCarrierError(CarrierError):
    """Try again later: timeout, network error, 5xx, or the carrier's quota (429). ``retry_after`` is the
    delay the carrier asked for, in seconds, when it said so."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CarrierQuotaExceeded(RetryableCarrierError):
    """HTTP 429 or the carrier's own "too many requests" answer."""


class PermanentCarrierError(CarrierError):
    """Retrying the same request cannot succeed: validation (4xx with the carrier's message), unknown
    parcel, refused credentials. Show ``message`` to the user and fix the data or the settings."""


class CarrierNotConfigured(PermanentCarrierError):
    """The adapter's credentials are missing from the settings."""


class NotSupported(PermanentCarrierError):
    """The adapter does not offer this operation (check ``adapter.supports`` first)."""


class WebhookRejected(PermanentCarrierError):
    """A webhook call that is not from the carrier (bad signature) or that we cannot read: answer 4xx."""


class WebhookUnreadable(WebhookRejected):
    """A webhook correctly signed by the carrier whose body we cannot read (not JSON, not the documented
    shape, a NUL or a lone surrogate in a string): answer 400, keep it as a failed delivery for a replay."""


# --- Data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    postcode: str
    city: str
    country: str = "FR"
    company: str = ""
    line2: str = ""
    phone: str = ""
    email: str = ""

    @property
    def first_last(self) -> tuple[str, str]:
        """``"Ana Roux"`` → ``("Ana", "Roux")``: the carriers that want them apart."""
        parts = (self.name or "").strip().split(" ", 1)
        return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])


@dataclass(frozen=True)
class CustomsLine:
    """One line of a customs declaration: what the goods are, their customs code (HS, 6 to 10 digits), the
    country they were made in, how many, the value of one unit (EUR) and the net weight of the line."""

    description: str
    hs_code: str
    origin_country: str
    quantity: int
    unit_value: Decimal
    weight_g: int
    sku: str = ""

    @property
    def value(self) -> Decimal:
        return (self.unit_value * self.quantity).quantize(Decimal("0.01"))

    @property
    def weight_kg(self) -> str:
        return f"{self.weight_g / 1000:.3f}"


# Reasons of export (CN23 "catégorie d'envoi"), ours → what each carrier calls them.
EXPORT_REASONS = ("sale", "gift", "sample", "return", "documents", "repair", "other")


@dataclass(frozen=True)
class CustomsDeclaration:
    lines: tuple[CustomsLine, ...]
    reason: str = "sale"
    currency: str = "EUR"
    invoice_number: str = ""
    shipping_cost: Decimal = Decimal("0.00")

    @property
    def total_value(self) -> Decimal:
        return sum((line.value for line in self.lines), Decimal("0.00"))

    @property
    def total_weight_g(self) -> int:
        return sum(line.weight_g for line in self.lines)


@dataclass(frozen=True)
class LabelRequest:
    """One parcel to label. ``reference`` is ours (the shipment number): carriers print it and adapters use
    it to be idempotent where they can. ``service_code`` is the carrier's product code (CarrierService.code
    or a mapping of it); ``relay_id`` the relay point's id for relay deliveries. ``formats`` lists the
    formats wanted, first preferred: an adapter that makes one format per call returns the first it can."""

    reference: str
    sender: Address
    recipient: Address
    weight_g: int
    service_code: str
    relay_id: str = ""
    relay_kind: str = ""  # RelayPoint.kind, for carriers whose product depends on it (Colissimo)
    formats: tuple[str, ...] = ("pdf", "zpl")
    deposit_date: str = ""  # ISO date the parcel is handed over (default: today)
    value: Decimal | None = None  # declared value (EUR), for insurance / customs
    customs: CustomsDeclaration | None = None  # parcels leaving the EU's VAT area (DOM-TOM, abroad)
    label_size: str = "a6"  # "a6" (105 × 148 mm) or "4x6" (4 × 6 in, thermal printers)
    brand_text: str = ""  # the merchant's text, printed where the carrier leaves a free area
    brand_logo: bytes | None = None  # the merchant's logo (PNG), where the carrier prints one


@dataclass(frozen=True)
class Label:
    tracking_number: str
    pdf: bytes | None = None
    zpl: str | None = None
    carrier_reference: str = ""  # the carrier's own id when it differs from the tracking number
    tracking_url: str = ""
    customs_pdf: bytes | None = None  # the carrier's own customs papers (commercial invoice, CN23)


@dataclass(frozen=True)
class RelaySearch:
    """Where to look for relay points: a postcode (and city) in a country, and coordinates when known."""

    postcode: str
    country: str = "FR"
    city: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    weight_g: int = 1000
    limit: int = 20


@dataclass(frozen=True)
class OpeningHours:
    """Per ISO weekday (1 = Monday … 7 = Sunday), a list of ``["09:00", "12:30"]`` opening intervals."""

    days: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, list[list[str]]]:
        return {str(day): [list(span) for span in spans] for day, spans in sorted(self.days.items())}


@dataclass(frozen=True)
class RelayPoint:
    id: str
    name: str
    line1: str
    postcode: str
    city: str
    country: str = "FR"
    line2: str = ""
    latitude: float | None = None
    longitude: float | None = None
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    distance_m: int | None = None  # as the carrier measured it from the search point
    kind: str = ""  # the carrier's type of point (Colissimo: A2P shop, BPR post office, CMT locker...)


@dataclass(frozen=True)
class CarrierEvent:
    """One tracking event: the carrier's ``code``, our ``status`` (a ShipmentStatus value, or "" when the
    event does not move the parcel's status), the carrier's ``label``, time and place."""

    code: str
    status: str
    label: str
    at: datetime
    place: str = ""


@dataclass(frozen=True)
class TrackingUpdate:
    """What the carrier knows of one parcel. ``events`` oldest first. ``final`` means the carrier will not
    report anything more (delivered, returned). ``error`` is set (and events empty) when the carrier does
    not know this number or refused it; the other numbers of the batch are still answered."""

    tracking_number: str
    events: list[CarrierEvent] = field(default_factory=list)
    final: bool = False
    estimated_delivery: datetime | None = None
    error: str = ""

    @property
    def status(self) -> str:
        """The status of the newest event that has one ("" when none)."""
        for event in reversed(self.events):
            if event.status:
                return event.status
        return ""


# --- The adapter -------------------------------------------------------------------------------------


class CarrierAdapter:
    """Base class. Subclasses set ``code`` and ``supports`` and implement what they support; calling an
    operation they do not support raises ``NotSupported``."""

    code = ""
    name = ""
    supports: frozenset[str] = frozenset()
    tracking_batch_size = 1  # tracking numbers per call of ``track``'s carrier request
    quota_per_second = 0  # the carrier's documented rate, kept across workers by ``request`` (0: none)
    tracking_url_template = ""  # public tracking page, "{number}" replaced

    def __init__(self, *, config: Mapping | None = None, client: httpx.Client | None = None):
        self.config = dict(config or {})
        self._client = client

    # Operations --------------------------------------------------------------------------------------

    def create_label(self, request: LabelRequest) -> Label:
        raise self._unsupported(LABEL)

    def cancel_label(self, tracking_number: str) -> None:
        raise self._unsupported(CANCEL_LABEL)

    def create_return_label(self, request: LabelRequest) -> Label:
        """``request.sender`` is the customer sending the parcel back, ``recipient`` the merchant."""
        raise self._unsupported(RETURN_LABEL)

    def search_relay_points(self, search: RelaySearch) -> list[RelayPoint]:
        raise self._unsupported(RELAY_SEARCH)

    def list_relay_points(self) -> list[RelayPoint]:
        raise self._unsupported(RELAY_DIRECTORY)

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        raise self._unsupported(TRACKING)

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> None:
        """Check that the call is the carrier's (its signature); raises ``WebhookRejected`` (401) if not."""
        raise self._unsupported(WEBHOOK)

    def read_webhook(self, *, headers: Mapping[str, str], body: bytes) -> list[TrackingUpdate]:
        """The updates in a verified call's body; raises ``WebhookUnreadable`` for a body it cannot read."""
        raise self._unsupported(WEBHOOK)

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> list[TrackingUpdate]:
        """``verify_webhook`` then ``read_webhook``."""
        self.verify_webhook(headers=headers, body=body)
        return self.read_webhook(headers=headers, body=body)

    # Helpers -----------------------------------------------------------------------------------------

    # (config key, label, secret): the credentials the settings form asks for this carrier.
    credentials: tuple[tuple[str, str, bool], ...] = ()
    # The carriers' test platforms: ``config["test_mode"]`` sends every call there.
    base_url = ""
    test_base_url = ""

    @property
    def api_root(self) -> str:
        return self.test_base_url if self.config.get("test_mode") and self.test_base_url else self.base_url

    def oauth_token(
        self,
        url: str,
        *,
        client_id: str,
        client_secret: str,
        form: dict | None = None,
        basic: bool = False,
        error_message=None,
    ) -> str:
        """An OAuth 2 client-credentials access token, kept in the cache until a minute before it expires
        (FedEx and UPS tokens live an hour; asking for one per call would eat the quota)."""
        import hashlib

        from django.core.cache import cache

        key = "carrier-token:" + hashlib.sha256(f"{self.code}|{url}|{client_id}".encode()).hexdigest()[:32]
        token = cache.get(key)
        if token:
            return token
        data = {"grant_type": "client_credentials", **(form or {})}
        kwargs: dict = {"data": data, "headers": {"Accept": "application/json"}}
        if basic:
            kwargs["auth"] = (client_id, client_secret)
        else:
            data.update(client_id=client_id, client_secret=client_secret)
        try:
            response = self.request("POST", url, error_message=error_message, **kwargs)
        except PermanentCarrierError as exc:
            if exc.status in (400, 401, 403):
                raise PermanentCarrierError(
                    f"{self.name} refused the credentials: {exc.message}",
                    carrier=self.code,
                    code="bad_credentials",
                    status=exc.status,
                ) from exc
            raise
        try:
            body = response.json()
            token = str(body["access_token"])
            ttl = int(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError) as exc:
            raise RetryableCarrierError(
                f"{self.name}'s token answer could not be read.", carrier=self.code, code="bad_answer"
            ) from exc
        cache.set(key, token, timeout=max(30, ttl - 60))
        return token

    def forget_token(self, url: str, *, client_id: str) -> None:
        import hashlib

        from django.core.cache import cache

        cache.delete(
            "carrier-token:" + hashlib.sha256(f"{self.code}|{url}|{client_id}".encode()).hexdigest()[:32]
        )

    def tracking_url(self, tracking_number: str) -> str:
        return self.tracking_url_template.format(number=tracking_number) if self.tracking_url_template else ""

    def _unsupported(self, what: str) -> NotSupported:
        return NotSupported(
            f"{self.name or self.code} does not support {what}.", carrier=self.code, code="not_supported"
        )

    def require(self, *names: str) -> list[str]:
        """The configuration values ``names``; raises ``CarrierNotConfigured`` naming the missing ones."""
        missing = [name for name in names if not self.config.get(name)]
        if missing:
            raise CarrierNotConfigured(
                f"{self.name}: set {', '.join(missing)} in the settings.",
                carrier=self.code,
                code="not_configured",
                details={"missing": missing},
            )
        return [self.config[name] for name in names]

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = shared_client()
        return self._client

    def request(self, method: str, url: str, *, error_message=None, ok=(200,), **kwargs) -> httpx.Response:
        """One HTTP call with the adapter's client (explicit timeouts). Network errors, timeouts, 5xx and
        429 raise ``RetryableCarrierError`` (``CarrierQuotaExceeded`` for 429); any other status not in
        ``ok`` raises ``PermanentCarrierError`` with the message ``error_message(response)`` found in the
        carrier's answer. Adapters whose carrier documents a rate (``quota_per_second``) wait for a slot
        shared by every worker first, so the quota is kept rather than hit."""
        if self.quota_per_second:
            from .ratelimit import RateLimiter, RateLimitTimeout

            try:
                RateLimiter(f"carrier:{self.code}", per_second=self.quota_per_second).acquire(max_wait=5)
            except RateLimitTimeout as exc:
                raise CarrierQuotaExceeded(
                    str(exc), carrier=self.code, code="quota_exceeded", retry_after=1
                ) from exc
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryableCarrierError(
                f"{self.name} did not answer in time.", carrier=self.code, code="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise RetryableCarrierError(
                f"{self.name} could not be reached: {exc}", carrier=self.code, code="network_error"
            ) from exc
        if response.status_code in ok:
            return response
        message = ""
        if error_message is not None:
            try:
                message = error_message(response) or ""
            except ValueError:
                message = ""
        message = message or _short(response.text) or f"HTTP {response.status_code}"
        if response.status_code == 429:
            raise CarrierQuotaExceeded(
                message,
                carrier=self.code,
                code="quota_exceeded",
                status=429,
                retry_after=_retry_after(response),
            )
        if response.status_code >= 500 or response.status_code == 408:
            raise RetryableCarrierError(
                message,
                carrier=self.code,
                code="server_error",
                status=response.status_code,
                retry_after=_retry_after(response),
            )
        raise PermanentCarrierError(message, carrier=self.code, code="rejected", status=response.status_code)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def batched(items: Iterable[str], size: int) -> list[list[str]]:
    items = list(dict.fromkeys(i for i in items if i))  # unique, order kept
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]
