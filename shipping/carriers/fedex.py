"""FedEx: labels, return labels, cancellation and tracking through the FedEx REST APIs (developer.fedex.com).

- OAuth 2 client credentials: ``POST /oauth/token`` (form ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``) → ``{access_token, token_type, expires_in: 3599}``; the token is cached.
- Ship API ``POST /ship/v1/shipments`` with ``labelResponseOptions: LABEL``, ``accountNumber.value`` and
  ``requestedShipment {shipper, recipients[], shipDatestamp, serviceType, packagingType, pickupType,
  shippingChargesPayment, labelSpecification {imageType PDF|ZPLII, labelStockType}, customsClearanceDetail
  {commodities[], commercialInvoice.shipmentPurpose, dutiesPayment}, shippingDocumentSpecification,
  requestedPackageLineItems[]}``. The answer: ``output.transactionShipments[0] {masterTrackingNumber,
  pieceResponses[0].packageDocuments[] {contentType LABEL, encodedLabel}, shipmentDocuments[]
  (COMMERCIAL_INVOICE)}``. Return labels: ``shipmentSpecialServices {specialServiceTypes: [RETURN_SHIPMENT],
  returnShipmentDetail.returnType: PRINT_RETURN_LABEL}``. ``PUT /ship/v1/shipments/cancel`` cancels.
- Track API ``POST /track/v1/trackingnumbers`` (up to 30 numbers) → ``output.completeTrackResults[]
  {trackingNumber, trackResults[0] {scanEvents[] {date, eventType, eventDescription, scanLocation},
  latestStatusDetail, error}}``.
- Errors: ``{transactionId, errors: [{code, message}]}``; 401 expired token (asked again once); 429
  ``TOO.MANY.REQUESTS`` when the project's quota (1,400 calls / 10 s) is used up.
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
    CUSTOMS,
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

# FedEx scan event types → our status.
EVENT_STATUS = {
    "OC": ShipmentStatus.LABELLED,  # shipment information sent to FedEx
    "PU": ShipmentStatus.HANDED_OVER,  # picked up
    "PX": ShipmentStatus.HANDED_OVER,  # picked up (details)
    "DO": ShipmentStatus.HANDED_OVER,  # dropped off
    "AR": ShipmentStatus.IN_TRANSIT,  # arrived at FedEx location
    "AF": ShipmentStatus.IN_TRANSIT,  # at local FedEx facility
    "DP": ShipmentStatus.IN_TRANSIT,  # departed FedEx location
    "IT": ShipmentStatus.IN_TRANSIT,
    "AA": ShipmentStatus.IN_TRANSIT,  # at airport
    "FD": ShipmentStatus.IN_TRANSIT,  # at FedEx destination
    "CC": ShipmentStatus.IN_TRANSIT,  # cleared customs
    "CD": ShipmentStatus.EXCEPTION,  # clearance delay
    "DY": "",  # delay: informative
    "OD": ShipmentStatus.OUT_FOR_DELIVERY,
    "HL": ShipmentStatus.AVAILABLE_FOR_PICKUP,  # held at a FedEx location for pickup
    "DE": ShipmentStatus.EXCEPTION,  # delivery exception
    "SE": ShipmentStatus.EXCEPTION,  # shipment exception
    "DL": ShipmentStatus.DELIVERED,
    "RS": ShipmentStatus.RETURNED,  # return to shipper
    "CA": "",  # cancelled by the shipper before pickup
}
FINAL_TYPES = {"DL", "RS"}
# Our service codes → FedEx serviceType; codes in capitals are taken as they are.
SERVICE_TYPES = {
    "international-priority": "FEDEX_INTERNATIONAL_PRIORITY",
    "international-economy": "INTERNATIONAL_ECONOMY",
    "regional-economy": "FEDEX_REGIONAL_ECONOMY",
    "priority": "FEDEX_INTERNATIONAL_PRIORITY",
    "economy": "INTERNATIONAL_ECONOMY",
    "domicile": "FEDEX_REGIONAL_ECONOMY",
    "express": "FEDEX_INTERNATIONAL_PRIORITY",
}
PURPOSES = {
    "sale": "SOLD",
    "gift": "GIFT",
    "sample": "SAMPLE",
    "return": "REPAIR_AND_RETURN",
    "repair": "REPAIR_AND_RETURN",
    "documents": "NOT_SOLD",
    "other": "NOT_SOLD",
}
STOCKS = {"a6": "PAPER_4X6", "4x6": "STOCK_4X6"}
# Sandbox steps: the codes the sandbox uses when it plays FedEx.
SANDBOX_CODES = {
    "taken": "PU",
    "transit": "IT",
    "arrived": "AR",
    "out": "OD",
    "delivered": "DL",
    "relay": "HL",
    "collected": "DL",
    "failed": "DE",
    "returned": "RS",
}


def _errors(response) -> str:
    body = response.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{e.get('message') or ''} ({e.get('code') or ''})" for e in errors)
    return ""


def _party(address: Address) -> dict:
    return {
        "contact": {
            "personName": address.name[:70],
            "companyName": address.company[:35] or None,
            "phoneNumber": address.phone or "0000000000",
            "emailAddress": address.email or None,
        },
        "address": {
            "streetLines": [line[:35] for line in (address.line1, address.line2) if line],
            "city": address.city[:35],
            "postalCode": address.postcode,
            "countryCode": address.country.upper(),
        },
    }


class FedexAdapter(CarrierAdapter):
    code = "fedex"
    name = "FedEx"
    supports = frozenset({LABEL, LABEL_PDF, LABEL_ZPL, RETURN_LABEL, CANCEL_LABEL, TRACKING, CUSTOMS})
    tracking_batch_size = 30
    quota_per_second = 140  # FedEx allows 1,400 transactions per 10 seconds per project
    tracking_url_template = "https://www.fedex.com/fedextrack/?trknbr={number}"
    base_url = "https://apis.fedex.com"
    test_base_url = "https://apis-sandbox.fedex.com"
    credentials = (
        ("client_id", _("API key (client id)"), False),
        ("client_secret", _("Secret key"), True),
        ("account_number", _("Account number"), False),
    )
    event_status = EVENT_STATUS
    sandbox_codes = SANDBOX_CODES

    def _token(self) -> str:
        client_id, secret = self.require("client_id", "client_secret")
        return self.oauth_token(
            f"{self.api_root}/oauth/token", client_id=client_id, client_secret=secret, error_message=_errors
        )

    def _call(self, method: str, path: str, body: dict):
        url = f"{self.api_root}{path}"
        for attempt in range(2):
            headers = {
                "Authorization": f"Bearer {self._token()}",
                "X-locale": "fr_FR",
                "Content-Type": "application/json",
            }
            try:
                return self.request(method, url, json=body, headers=headers, error_message=_errors)
            except PermanentCarrierError as exc:
                if exc.status == 401 and attempt == 0:  # the cached token expired early: ask again once
                    self.forget_token(f"{self.api_root}/oauth/token", client_id=self.config["client_id"])
                    continue
                raise
        raise AssertionError("unreachable")

    def service_type(self, request: LabelRequest) -> str:
        code = request.service_code
        value = code if code.isupper() else SERVICE_TYPES.get(code, "")
        if not value:
            raise PermanentCarrierError(
                f"No FedEx service for {code!r}.", carrier=self.code, code="unknown_service"
            )
        return value

    def shipment_body(self, request: LabelRequest, *, is_return: bool = False) -> dict:
        (account,) = self.require("account_number")
        fmt = "ZPLII" if request.formats and request.formats[0] == "zpl" else "PDF"
        shipment = {
            "shipper": _party(request.sender),
            "recipients": [_party(request.recipient)],
            "shipDatestamp": request.deposit_date or timezone.localdate().isoformat(),
            "serviceType": self.service_type(request),
            "packagingType": "YOUR_PACKAGING",
            "pickupType": "USE_SCHEDULED_PICKUP",
            "shippingChargesPayment": {"paymentType": "SENDER"},
            "labelSpecification": {
                "imageType": fmt,
                "labelStockType": STOCKS.get(request.label_size, "PAPER_4X6"),
                "labelFormatType": "COMMON2D",
            },
            "requestedPackageLineItems": [
                {
                    "weight": {"units": "KG", "value": round(request.weight_g / 1000, 2)},
                    "customerReferences": [
                        {"customerReferenceType": "CUSTOMER_REFERENCE", "value": request.reference[:30]}
                    ],
                }
            ],
        }
        if request.customs:
            customs = request.customs
            shipment["customsClearanceDetail"] = {
                "dutiesPayment": {"paymentType": "RECIPIENT"},
                "isDocumentOnly": customs.reason == "documents",
                "commercialInvoice": {
                    "shipmentPurpose": PURPOSES.get(customs.reason, "SOLD"),
                    "customerReferences": [
                        {
                            "customerReferenceType": "INVOICE_NUMBER",
                            "value": customs.invoice_number or request.reference,
                        }
                    ],
                },
                "totalCustomsValue": {"amount": float(customs.total_value), "currency": customs.currency},
                "commodities": [
                    {
                        "description": line.description[:450],
                        "harmonizedCode": line.hs_code,
                        "countryOfManufacture": line.origin_country,
                        "quantity": line.quantity,
                        "quantityUnits": "PCS",
                        "unitPrice": {"amount": float(line.unit_value), "currency": customs.currency},
                        "customsValue": {"amount": float(line.value), "currency": customs.currency},
                        "weight": {"units": "KG", "value": round(line.weight_g / 1000, 3)},
                    }
                    for line in customs.lines
                ],
            }
            shipment["shippingDocumentSpecification"] = {
                "shippingDocumentTypes": ["COMMERCIAL_INVOICE"],
                "commercialInvoiceDetail": {
                    "documentFormat": {"stockType": "PAPER_LETTER", "docType": "PDF"}
                },
            }
        if is_return:
            shipment["shipmentSpecialServices"] = {
                "specialServiceTypes": ["RETURN_SHIPMENT"],
                "returnShipmentDetail": {"returnType": "PRINT_RETURN_LABEL"},
            }
        return {
            "labelResponseOptions": "LABEL",
            "accountNumber": {"value": account},
            "requestedShipment": shipment,
        }

    def create_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=False)

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=True)

    def _ship(self, request: LabelRequest, *, is_return: bool) -> Label:
        self.require("client_id", "client_secret", "account_number")  # every missing one named at once
        body = self.shipment_body(request, is_return=is_return)
        response = self._call("POST", "/ship/v1/shipments", body)
        try:
            shipment = response.json()["output"]["transactionShipments"][0]
            number = str(shipment["masterTrackingNumber"])
            documents = shipment["pieceResponses"][0].get("packageDocuments") or []
            encoded = next(d["encodedLabel"] for d in documents if d.get("encodedLabel"))
            data = base64.b64decode(encoded)
            invoice = next(
                (
                    base64.b64decode(d["encodedLabel"])
                    for d in shipment.get("shipmentDocuments") or []
                    if d.get("contentType") == "COMMERCIAL_INVOICE" and d.get("encodedLabel")
                ),
                None,
            )
        except (ValueError, KeyError, IndexError, StopIteration, TypeError) as exc:
            raise RetryableCarrierError(
                "FedEx answered without a label.", carrier=self.code, code="bad_answer"
            ) from exc
        zpl = body["requestedShipment"]["labelSpecification"]["imageType"] == "ZPLII"
        return Label(
            tracking_number=number,
            pdf=None if zpl else data,
            zpl=data.decode("utf-8", "replace") if zpl else None,
            tracking_url=self.tracking_url(number),
            customs_pdf=invoice,
        )

    def cancel_label(self, tracking_number: str) -> None:
        (account,) = self.require("account_number")
        response = self._call(
            "PUT",
            "/ship/v1/shipments/cancel",
            {
                "accountNumber": {"value": account},
                "trackingNumber": tracking_number,
                "deletionControl": "DELETE_ALL_PACKAGES",
            },
        )
        output = (response.json() or {}).get("output") or {}
        if not output.get("cancelledShipment"):
            message = "; ".join(a.get("message", "") for a in output.get("alerts") or []) or "Not cancelled."
            raise PermanentCarrierError(message, carrier=self.code, code="not_cancelled")

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        updates = []
        for batch in batched(tracking_numbers, self.tracking_batch_size):
            response = self._call(
                "POST",
                "/track/v1/trackingnumbers",
                {
                    "includeDetailedScans": True,
                    "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in batch],
                },
            )
            results = {
                str(r.get("trackingNumber")): (r.get("trackResults") or [{}])[0]
                for r in (response.json().get("output") or {}).get("completeTrackResults") or []
            }
            for number in batch:
                updates.append(self._update(number, results.get(number)))
        return updates

    def _update(self, number: str, result: dict | None) -> TrackingUpdate:
        if not result:
            return TrackingUpdate(tracking_number=number, error="FedEx did not answer for this number.")
        if result.get("error"):
            error = result["error"]
            return TrackingUpdate(
                tracking_number=number, error=f"{error.get('message')} ({error.get('code')})"
            )
        events = []
        for scan in result.get("scanEvents") or []:
            at = parse_datetime(str(scan.get("date") or ""))
            if at is None:
                continue
            code = str(scan.get("eventType") or "")
            place = (scan.get("scanLocation") or {}).get("city") or ""
            events.append(
                CarrierEvent(
                    code=code,
                    status=EVENT_STATUS.get(code, ""),
                    label=str(scan.get("eventDescription") or "")[:255],
                    at=at,
                    place=str(place)[:120],
                )
            )
        events.sort(key=lambda e: e.at)
        latest = str((result.get("latestStatusDetail") or {}).get("code") or "")
        return TrackingUpdate(
            tracking_number=number,
            events=events,
            final=latest in FINAL_TYPES or bool(events and events[-1].code in FINAL_TYPES),
        )
