"""Carrier adapters: one interface for labels, return labels, relay points, tracking and webhooks.

Call them only from Celery tasks (they make HTTP calls, with explicit timeouts), never in a web request.

    from shipping.carriers import get_adapter, LabelRequest, Address, LABEL, RetryableCarrierError

    adapter = get_adapter(shipment.service.carrier)        # by Carrier.adapter; credentials from settings
    if LABEL in adapter.supports:
        label = adapter.create_label(LabelRequest(
            reference=shipment.number,                       # printed, and the idempotency handle
            sender=Address(name=..., line1=..., postcode=..., city=..., country="FR", phone=...),
            recipient=Address(...),
            weight_g=shipment.weight_g,
            service_code=shipment.service.code,              # mapped to the carrier's product code
            relay_id=order.relay_point.get("id", ""),        # relay deliveries
            formats=("pdf", "zpl"),                          # first preferred
        ))
        label.tracking_number, label.pdf (bytes | None), label.zpl (str | None), label.tracking_url

Operations (each raises ``NotSupported`` when the adapter lacks it: check ``adapter.supports``):

- ``create_label(LabelRequest) -> Label`` (``LABEL``; ``LABEL_PDF`` / ``LABEL_ZPL`` say which formats
  come back: Colissimo makes one format per call, the first of ``formats`` it knows; Mondial Relay PDF
  only; the sandbox both).
- ``cancel_label(tracking_number)`` (``CANCEL_LABEL``: the sandbox only; Colissimo does not bill unused
  labels and has no cancellation call).
- ``create_return_label(LabelRequest) -> Label`` (``RETURN_LABEL``: sender = the customer, recipient =
  the merchant's return address).
- ``search_relay_points(RelaySearch) -> list[RelayPoint]`` (``RELAY_SEARCH``) and
  ``list_relay_points()`` (``RELAY_DIRECTORY``: the whole network at once, the sandbox). Web requests
  never call these: they read the local ``RelayPoint`` directory (``shipping.selectors.relay_point_search``)
  refreshed daily by ``shipping.tasks.relay_points_refresh``.
- ``track(tracking_numbers) -> list[TrackingUpdate]`` (``TRACKING``), one update per distinct number, in
  order; ``adapter.tracking_batch_size`` numbers go in one carrier call (La Poste: 10, rate-limited to
  its 100 calls/s quota across workers). A number the carrier does not know comes back with ``error`` set
  and no events; the rest of the batch is still answered. ``TrackingUpdate.events`` are oldest first,
  each a ``CarrierEvent(code, status, label, at, place)`` where ``status`` is a ``ShipmentStatus`` value
  (or "" for an informative event); ``update.status`` is the newest status, ``update.final`` says the
  carrier will report nothing more. Store events with ``TrackingEvent``'s unique (shipment, code, at).
- ``verify_webhook(headers=, body=)`` then ``read_webhook(headers=, body=) -> list[TrackingUpdate]``
  (``WEBHOOK``: the sandbox, HMAC-signed with SANDBOX_WEBHOOK_SECRET; ``parse_webhook`` does both): the
  first raises ``WebhookRejected`` for a bad signature (401), the second ``WebhookUnreadable`` for a signed
  body it cannot read (400; the call is kept as a failed ``CarrierWebhook`` that staff can replay).

Errors: everything an adapter raises is a ``CarrierError`` with ``message`` (the carrier's own when it
gave one), ``code``, ``status`` and ``retryable``:
- ``RetryableCarrierError`` (timeouts, network errors, 5xx, unreadable answers) and its subclass
  ``CarrierQuotaExceeded`` (429; ``retry_after`` seconds when the carrier said): retry with backoff;
- ``PermanentCarrierError`` (4xx validation with the carrier's message, unknown service, refused
  credentials), ``CarrierNotConfigured`` (credentials missing from the settings), ``NotSupported``,
  ``WebhookRejected``: do not retry; keep ``str(exc)`` on the shipment (``label_error``) for staff.

Adapters: ``sandbox`` (everything, locally: demo and tests), ``colissimo`` (SLS labels and returns,
pickup points, La Poste tracking), ``chronopost`` (La Poste tracking), ``mondial_relay`` (relay search,
PDF labels), ``dhl`` (unified tracking), ``store`` (nothing: click & collect).
"""

from .base import (
    CANCEL_LABEL,
    CAPABILITIES,
    CUSTOMS,
    EXPORT_REASONS,
    LABEL,
    LABEL_BRANDING,
    LABEL_PDF,
    LABEL_ZPL,
    RELAY_DIRECTORY,
    RELAY_SEARCH,
    RETURN_LABEL,
    TRACKING,
    WEBHOOK,
    Address,
    CarrierAdapter,
    CarrierError,
    CarrierEvent,
    CarrierNotConfigured,
    CarrierQuotaExceeded,
    CustomsDeclaration,
    CustomsLine,
    Label,
    LabelRequest,
    NotSupported,
    OpeningHours,
    PermanentCarrierError,
    RelayPoint,
    RelaySearch,
    RetryableCarrierError,
    TrackingUpdate,
    WebhookRejected,
    WebhookUnreadable,
)
from .registry import ADAPTERS, adapter_config, get_adapter

__all__ = [
    "ADAPTERS",
    "CANCEL_LABEL",
    "CAPABILITIES",
    "CUSTOMS",
    "EXPORT_REASONS",
    "LABEL_BRANDING",
    "CustomsDeclaration",
    "CustomsLine",
    "LABEL",
    "LABEL_PDF",
    "LABEL_ZPL",
    "RELAY_DIRECTORY",
    "RELAY_SEARCH",
    "RETURN_LABEL",
    "TRACKING",
    "WEBHOOK",
    "Address",
    "CarrierAdapter",
    "CarrierError",
    "CarrierEvent",
    "CarrierNotConfigured",
    "CarrierQuotaExceeded",
    "Label",
    "LabelRequest",
    "NotSupported",
    "OpeningHours",
    "PermanentCarrierError",
    "RelayPoint",
    "RelaySearch",
    "RetryableCarrierError",
    "TrackingUpdate",
    "WebhookRejected",
    "WebhookUnreadable",
    "adapter_config",
    "get_adapter",
]
