"""GLS: labels, return labels, cancellation and tracking through GLS ShipIT's REST API (the
"ShipIT Farm" web API of GLS Group, ``/backend/rs``).

- HTTP Basic with the ShipIT user and password; media type ``application/glsVersion1+json`` both ways.
- Return labels are parcels to the merchant paid by the merchant's account.
- ``POST /shipments``: ``{Shipment {ShipmentReference[], ShippingDate, Product: PARCEL|EXPRESS, Consignee
  {Category PRIVATE|BUSINESS, Address {Name1, Name2, CountryCode, ZIPCode, City, Street, eMail,
  MobilePhoneNumber, ContactPerson}}, Shipper {ContactID}, ShipmentUnit [{Weight (kg),
  ShipmentUnitReference[]}], Service [{ShopDelivery {ServiceName: service_shopdelivery, ParcelShopID}},
  {FlexDeliveryService {ServiceName: service_flexdelivery}}]}, PrintingOptions {ReturnLabels {TemplateSet
  NONE, LabelFormat PDF|ZEBRA}}}``. The answer 201: ``CreatedShipment {ParcelData [{TrackID,
  ParcelNumber}], PrintData [{Data (base64), LabelFormat}]}``.
- ``POST /shipments/cancel/{TrackID}`` → ``{TrackID, result: CANCELLED|CANCELLATION_PENDING|...}``.
- ``POST /tracking/references`` ``{TrackIDs[]}`` → ``UnitItems [{TrackID, Status, History [{Date,
  StatusCode, Description, Location}]}]``; statuses PREADVICE, INTRANSIT, INWAREHOUSE, INDELIVERY,
  DELIVERED, DELIVEREDPS (at a ParcelShop), NOTDELIVERED, CANCELED.
- Refusals: 4xx with the ``error`` and ``message`` headers (and ``{errors: [{exitCode, exitMessage}]}``);
  429 when the account's calls per minute are used up.

GLS takes no customs lines here: parcels that need a CN23 get ours printed with the label.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from ..models import ShipmentStatus
from .base import (
    CANCEL_LABEL,
    LABEL,
    LABEL_PDF,
    LABEL_ZPL,
    RETURN_LABEL,
    TRACKING,
    Address,
    CarrierAdapter,
    CarrierEvent,
    Label,
    LabelRequest,
    PermanentCarrierError,
    RetryableCarrierError,
    TrackingUpdate,
    batched,
)

MEDIA = "application/glsVersion1+json"
EVENT_STATUS = {
    "PREADVICE": ShipmentStatus.LABELLED,
    "INTRANSIT": ShipmentStatus.IN_TRANSIT,
    "INWAREHOUSE": ShipmentStatus.IN_TRANSIT,
    "INDELIVERY": ShipmentStatus.OUT_FOR_DELIVERY,
    "DELIVEREDPS": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "NOTDELIVERED": ShipmentStatus.EXCEPTION,
    "DELIVERED": ShipmentStatus.DELIVERED,
    "RETURNED": ShipmentStatus.RETURNED,
    "CANCELED": "",
    "FINAL": "",
}
SANDBOX_CODES = {
    "taken": "INTRANSIT",
    "transit": "INTRANSIT",
    "arrived": "INWAREHOUSE",
    "out": "INDELIVERY",
    "delivered": "DELIVERED",
    "relay": "DELIVEREDPS",
    "collected": "DELIVERED",
    "failed": "NOTDELIVERED",
    "returned": "RETURNED",
}


def _errors(response) -> str:
    header = " ".join(filter(None, (response.headers.get("message"), response.headers.get("args"))))
    if header:
        return header
    body = response.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{e.get('exitMessage') or ''} ({e.get('exitCode') or ''})" for e in errors)
    return ""


def _consignee(address: Address) -> dict:
    return {
        "Category": "BUSINESS" if address.company else "PRIVATE",
        "Address": {
            "Name1": (address.company or address.name)[:40],
            "Name2": address.name[:40] if address.company else None,
            "CountryCode": address.country.upper(),
            "ZIPCode": address.postcode,
            "City": address.city[:40],
            "Street": address.line1[:40],
            "eMail": address.email or None,
            "MobilePhoneNumber": address.phone or None,
            "ContactPerson": address.name[:40],
        },
    }


class GlsAdapter(CarrierAdapter):
    code = "gls"
    name = "GLS"
    supports = frozenset({LABEL, LABEL_PDF, LABEL_ZPL, RETURN_LABEL, CANCEL_LABEL, TRACKING})
    tracking_batch_size = 20
    tracking_url_template = "https://gls-group.com/FR/fr/suivi-colis?match={number}"
    base_url = "https://shipit-wbm-fr01.gls-group.eu:443/backend/rs"
    test_base_url = "https://shipit-wbm-test01.gls-group.eu:8443/backend/rs"
    credentials = (
        ("username", _("ShipIT user"), False),
        ("password", _("Password"), True),
        ("contact_id", _("Contact id (shipper)"), False),
    )
    event_status = EVENT_STATUS
    sandbox_codes = SANDBOX_CODES

    def _call(self, path: str, body: dict, *, ok=(200, 201)):
        user, password = self.require("username", "password")
        return self.request(
            "POST",
            f"{self.api_root}{path}",
            json=body,
            auth=(user, password),
            headers={"Accept": MEDIA, "Content-Type": MEDIA},
            ok=ok,
            error_message=_errors,
        )

    def shipment_body(self, request: LabelRequest, *, is_return: bool = False) -> dict:
        (contact,) = self.require("contact_id")
        zpl = bool(request.formats) and request.formats[0] == "zpl"
        services = []
        if request.relay_id:
            services.append(
                {"ShopDelivery": {"ServiceName": "service_shopdelivery", "ParcelShopID": request.relay_id}}
            )
        elif request.recipient.email and not is_return:
            services.append({"FlexDeliveryService": {"ServiceName": "service_flexdelivery"}})
        # A return label is a parcel to the merchant (``recipient``) that our account pays for.
        consignee = request.recipient
        return {
            "Shipment": {
                "ShipmentReference": [request.reference[:40]],
                "ShippingDate": request.deposit_date or timezone.localdate().isoformat(),
                "Product": "PARCEL",
                "Consignee": _consignee(consignee),
                "Shipper": {"ContactID": contact},
                "ShipmentUnit": [
                    {
                        "Weight": round(max(request.weight_g, 100) / 1000, 2),
                        "ShipmentUnitReference": [request.reference[:40]],
                    }
                ],
                "Service": services,
            },
            "PrintingOptions": {
                "ReturnLabels": {"TemplateSet": "NONE", "LabelFormat": "ZEBRA" if zpl else "PDF"}
            },
        }

    def create_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=False)

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=True)

    def _ship(self, request: LabelRequest, *, is_return: bool) -> Label:
        body = self.shipment_body(request, is_return=is_return)
        response = self._call("/shipments", body)
        try:
            created = response.json()["CreatedShipment"]
            parcel = created["ParcelData"][0]
            number = str(parcel["TrackID"])
            data = base64.b64decode(created["PrintData"][0]["Data"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RetryableCarrierError(
                "GLS answered without a label.", carrier=self.code, code="bad_answer"
            ) from exc
        zpl = body["PrintingOptions"]["ReturnLabels"]["LabelFormat"] == "ZEBRA"
        return Label(
            tracking_number=number,
            pdf=None if zpl else data,
            zpl=data.decode("utf-8", "replace") if zpl else None,
            carrier_reference=str(parcel.get("ParcelNumber") or ""),
            tracking_url=self.tracking_url(number),
        )

    def cancel_label(self, tracking_number: str) -> None:
        response = self._call(f"/shipments/cancel/{tracking_number}", {})
        result = str((response.json() or {}).get("result") or "")
        if result not in ("CANCELLED", "CANCELLATION_PENDING"):
            raise PermanentCarrierError(
                f"GLS did not cancel the parcel ({result or 'no answer'}).",
                carrier=self.code,
                code="not_cancelled",
            )

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        updates = []
        for batch in batched(tracking_numbers, self.tracking_batch_size):
            response = self._call("/tracking/references", {"TrackIDs": batch}, ok=(200,))
            items = {str(i.get("TrackID")): i for i in (response.json() or {}).get("UnitItems") or []}
            for number in batch:
                item = items.get(number)
                if item is None:
                    updates.append(
                        TrackingUpdate(tracking_number=number, error="GLS does not know this parcel.")
                    )
                    continue
                events = []
                for entry in item.get("History") or []:
                    at = parse_datetime(str(entry.get("Date") or ""))
                    if at is None:
                        continue
                    if timezone.is_naive(at):
                        at = timezone.make_aware(at, timezone.get_default_timezone())
                    code = str(entry.get("StatusCode") or "").upper()
                    events.append(
                        CarrierEvent(
                            code=code,
                            status=EVENT_STATUS.get(code, ""),
                            label=str(entry.get("Description") or "")[:255],
                            at=at,
                            place=str(entry.get("Location") or "")[:120],
                        )
                    )
                events.sort(key=lambda e: e.at)
                status = str(item.get("Status") or "").upper()
                updates.append(
                    TrackingUpdate(
                        tracking_number=number,
                        events=events,
                        final=status in ("DELIVERED", "RETURNED", "CANCELED", "FINAL"),
                    )
                )
        return updates
