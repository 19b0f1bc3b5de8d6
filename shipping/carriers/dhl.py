"""DHL: tracking through the Shipment Tracking – Unified API.

``GET https://api-eu.dhl.com/track/shipments?trackingNumber=...`` with the ``DHL-API-Key`` header (one
number per call). The answer is ``{"shipments": [{id, service, status, events[], estimatedTimeOfDelivery}]}``
where ``status`` and each event are ``{timestamp, location: {address: {addressLocality}}, statusCode,
status, description}`` and ``statusCode`` is ``pre-transit``, ``transit``, ``delivered``, ``failure`` or
``unknown``. Errors are RFC 7807 problems ``{title, status, detail}``: 404 for an unknown number, 429
when the key's quota is used up."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from ..models import ShipmentStatus
from .base import TRACKING, CarrierAdapter, CarrierEvent, TrackingUpdate

TRACK_URL = "https://api-eu.dhl.com/track/shipments"

STATUS_CODES = {
    "pre-transit": ShipmentStatus.LABELLED,
    "transit": ShipmentStatus.IN_TRANSIT,
    "delivered": ShipmentStatus.DELIVERED,
    "failure": ShipmentStatus.EXCEPTION,
    "unknown": "",
}


def _problem(response) -> str:
    body = response.json()
    return str(body.get("detail") or body.get("title") or "") if isinstance(body, dict) else ""


def _event(item: dict) -> CarrierEvent | None:
    at = parse_datetime(str(item.get("timestamp") or ""))
    if at is None:
        return None
    code = str(item.get("statusCode") or "unknown")
    status = STATUS_CODES.get(code, "")
    description = str(item.get("description") or item.get("status") or "")
    if code == "transit" and "out for delivery" in description.lower():
        status = ShipmentStatus.OUT_FOR_DELIVERY
    place = ((item.get("location") or {}).get("address") or {}).get("addressLocality") or ""
    return CarrierEvent(code=code, status=status, label=description[:255], at=at, place=str(place)[:120])


class DhlAdapter(CarrierAdapter):
    code = "dhl"
    name = "DHL"
    supports = frozenset({TRACKING})
    credentials = (("api_key", _("Tracking API key (DHL-API-Key)"), True),)
    event_status = STATUS_CODES
    tracking_url_template = "https://www.dhl.com/fr-fr/home/tracking.html?tracking-id={number}"

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        (key,) = self.require("api_key")
        updates = []
        for number in dict.fromkeys(n for n in tracking_numbers if n):
            response = self.request(
                "GET",
                TRACK_URL,
                params={"trackingNumber": number},
                headers={"DHL-API-Key": key, "Accept": "application/json"},
                ok=(200, 404),
                error_message=_problem,
            )
            if response.status_code == 404:
                updates.append(
                    TrackingUpdate(tracking_number=number, error=_problem(response) or "Not found.")
                )
                continue
            shipments = response.json().get("shipments") or []
            shipment = next(
                (s for s in shipments if str(s.get("id")) == number), shipments[0] if shipments else None
            )
            if shipment is None:
                updates.append(TrackingUpdate(tracking_number=number, error="DHL returned no shipment."))
                continue
            events = [e for e in map(_event, shipment.get("events") or []) if e is not None]
            if not events and shipment.get("status"):
                current = _event(shipment["status"])
                events = [current] if current else []
            events.sort(key=lambda e: e.at)
            eta = shipment.get("estimatedTimeOfDelivery")
            updates.append(
                TrackingUpdate(
                    tracking_number=number,
                    events=events,
                    final=((shipment.get("status") or {}).get("statusCode") == "delivered"),
                    estimated_delivery=parse_datetime(str(eta)) if eta else None,
                )
            )
        return updates
