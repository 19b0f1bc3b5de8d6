"""Carriers' tracking webhooks (``POST /webhooks/carriers/<code>/``): the signature is checked first (a call
that is not the carrier's is refused and nothing is kept); a signed call is kept with its body, read by the
adapter and applied like a poll. A body the adapter cannot read is kept as failed, with the reason, and
answered 400; staff see it on the carrier settings and replay it once the cause is fixed."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common.exceptions import DomainError
from common.text import bad_character, safe_data, safe_text

from . import carriers
from .models import Carrier, CarrierWebhook, ParcelReturnLabel, Shipment
from .shipments import return_label_tracking_apply, tracking_apply

logger = logging.getLogger(__name__)

Status = CarrierWebhook.Status
# Never kept: the caller's credentials.
DROPPED_HEADERS = {"authorization", "cookie", "proxy-authorization"}


class WebhookNotReplayable(DomainError):
    """Only a failed or ignored webhook call can be replayed."""

    code = "invalid_transition"
    status_code = 409


def webhook_receive(*, carrier: Carrier, headers: dict, body: bytes) -> CarrierWebhook:
    """Check the call's signature (``carriers.WebhookRejected`` if it is not the carrier's: nothing is kept),
    keep it, then apply it. Returns the kept call: ``processed`` (``parcels_updated``), ``ignored`` (no parcel
    of ours) or ``failed`` (``malformed_body`` / ``malformed_payload`` when the body cannot be read)."""
    adapter = carriers.get_adapter(carrier)
    if carriers.WEBHOOK not in adapter.supports:
        raise carriers.WebhookRejected("This carrier sends no webhooks.", code="not_supported", status=404)
    adapter.verify_webhook(headers=headers, body=body)
    try:
        text = body.decode("utf-8")
        is_text = bad_character(text) is None
    except UnicodeDecodeError:
        text, is_text = body.decode("utf-8", errors="replace"), False
    call = CarrierWebhook.objects.create(
        carrier=carrier,
        headers=safe_data({k: v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}),
        payload=safe_text(text),
        # until processing says otherwise: a crash leaves it visible and replayable
        status=Status.FAILED,
        error_code="processing_error",
        error="The call was kept but its processing did not finish.",
    )
    if not is_text:
        return _finish(
            call,
            status=Status.FAILED,
            error_code="malformed_body",
            error="The body is not UTF-8 text or contains a NUL character (kept with U+FFFD in their place).",
        )
    return _apply(call=call, adapter=adapter, body=body)


def webhook_replay(*, call: CarrierWebhook) -> CarrierWebhook:
    """Apply a failed or ignored call again (its signature was checked when it came), e.g. once the parcel
    exists or the adapter reads the body."""
    if call.error_code == "malformed_body":
        raise WebhookNotReplayable(
            "The body of this call was not text: only the carrier can send it again.",
            details={"error_code": call.error_code},
        )
    updated = CarrierWebhook.objects.filter(pk=call.pk, status__in=[Status.FAILED, Status.IGNORED]).update(
        attempts=F("attempts") + 1
    )
    if not updated:
        raise WebhookNotReplayable(details={"status": call.status})
    call.refresh_from_db()
    return _apply(call=call, adapter=carriers.get_adapter(call.carrier), body=call.payload.encode())


def _apply(*, call: CarrierWebhook, adapter, body: bytes) -> CarrierWebhook:
    try:
        updates = adapter.read_webhook(headers=call.headers, body=body)
    except carriers.WebhookUnreadable as exc:
        return _finish(call, status=Status.FAILED, error_code="malformed_payload", error=exc.message)
    count, unknown = 0, []
    try:
        with transaction.atomic():
            for update in updates:
                shipment = Shipment.objects.filter(
                    tracking_number=update.tracking_number, service__carrier=call.carrier
                ).first()
                if shipment is not None:
                    tracking_apply(shipment_id=shipment.pk, update=update)
                    count += 1
                    continue
                # a return label slipped in one of our parcels: its first scan opens the return
                label = ParcelReturnLabel.objects.filter(
                    tracking_number=update.tracking_number, carrier=call.carrier
                ).first()
                if label is None:
                    unknown.append(update.tracking_number)
                    continue
                return_label_tracking_apply(label=label, update=update)
                count += 1
    except DomainError as exc:
        return _finish(call, status=Status.FAILED, error_code=exc.code, error=exc.message)
    if unknown and not count:
        return _finish(
            call,
            status=Status.IGNORED,
            error_code="unknown_parcel",
            error=safe_text(f"No parcel of this carrier has the tracking number {', '.join(unknown)}.")[
                :2000
            ],
        )
    return _finish(call, status=Status.PROCESSED, parcels_updated=count)


def _finish(call, *, status, error_code="", error="", parcels_updated=0) -> CarrierWebhook:
    call.status = status
    call.error_code = error_code
    call.error = error
    call.parcels_updated = parcels_updated
    call.processed_at = timezone.now()
    call.save(update_fields=["status", "error_code", "error", "parcels_updated", "processed_at"])
    return call
