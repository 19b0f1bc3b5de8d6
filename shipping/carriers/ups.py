"""UPS: labels, return labels, cancellation (void), tracking and UPS Access Points through the UPS REST APIs
(developer.ups.com).

- OAuth 2 client credentials: ``POST /security/v1/oauth/token`` with HTTP Basic ``client_id:client_secret``,
  form ``grant_type=client_credentials`` and the ``x-merchant-id`` header (the shipper number).
- Shipping ``POST /api/shipments/v2409/ship``: ``{ShipmentRequest: {Request, Shipment {Shipper {Name,
  ShipperNumber, Address {AddressLine[], City, PostalCode, CountryCode}}, ShipTo, ShipFrom,
  PaymentInformation.ShipmentCharge[{Type: "01", BillShipper.AccountNumber}], Service.Code, Package[
  {Packaging.Code "02", PackageWeight {UnitOfMeasurement.Code KGS, Weight}}], ShipmentServiceOptions
  {InternationalForms {FormType ["01"], InvoiceNumber, InvoiceDate, ReasonForExport, CurrencyCode,
  Product[{Description[], CommodityCode, OriginCountryCode, Unit {Number, Value, UnitOfMeasurement.Code
  PCS}, ProductWeight}]}}, ReturnService.Code "9" (print return label)}, LabelSpecification
  {LabelImageFormat.Code GIF|ZPL, LabelStockSize {Height 6, Width 4}}}}``. The answer:
  ``ShipmentResponse.ShipmentResults {ShipmentIdentificationNumber, PackageResults {TrackingNumber,
  ShippingLabel.GraphicImage (base64 GIF or ZPL)}, Form.Image.GraphicImage (the invoice, PDF)}``. UPS makes
  no PDF label: the GIF is laid on a PDF page here. ``DELETE /api/shipments/v2409/void/cancel/{id}`` voids.
- Tracking ``GET /api/track/v1/details/{number}`` → ``trackResponse.shipment[0].package[0].activity[]
  {status {type, code, statusCode, description}, date YYYYMMDD, time HHMMSS, location.address}``; an
  unknown number answers ``warnings`` ("Tracking Information Not Found") or 404.
- Access Points: Locator ``POST /api/locations/v3/search/availabilities/64`` → ``LocatorResponse
  .SearchResults.DropLocation[]``.
- Errors: ``{response: {errors: [{code, message}]}}``; 429 when the rate limit is passed.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import ShipmentStatus
from .base import (
    CANCEL_LABEL,
    CUSTOMS,
    LABEL,
    LABEL_PDF,
    LABEL_ZPL,
    RELAY_SEARCH,
    RETURN_LABEL,
    TRACKING,
    Address,
    CarrierAdapter,
    CarrierEvent,
    Label,
    LabelRequest,
    OpeningHours,
    PermanentCarrierError,
    RelayPoint,
    RelaySearch,
    RetryableCarrierError,
    TrackingUpdate,
)

# UPS activity status types (and a few status codes that say more) → our status.
STATUS_TYPES = {
    "M": ShipmentStatus.LABELLED,  # manifest: billing information received
    "MV": "",  # manifest voided
    "P": ShipmentStatus.HANDED_OVER,  # pickup
    "I": ShipmentStatus.IN_TRANSIT,
    "X": ShipmentStatus.EXCEPTION,
    "D": ShipmentStatus.DELIVERED,
    "RS": ShipmentStatus.RETURNED,  # returned to shipper
    "DO": ShipmentStatus.IN_TRANSIT,  # delivered to the origin clearance centre
    "DD": ShipmentStatus.IN_TRANSIT,  # delivered to the destination clearance centre
    "W": ShipmentStatus.IN_TRANSIT,  # warehousing
    "NA": "",
    "O": ShipmentStatus.OUT_FOR_DELIVERY,
}
STATUS_CODES = {
    "003": ShipmentStatus.LABELLED,  # order processed: ready for UPS
    "038": ShipmentStatus.HANDED_OVER,  # picked up
    "005": ShipmentStatus.IN_TRANSIT,
    "021": ShipmentStatus.OUT_FOR_DELIVERY,
    "072": ShipmentStatus.OUT_FOR_DELIVERY,  # loaded on delivery vehicle
    "2Q": ShipmentStatus.AVAILABLE_FOR_PICKUP,  # delivered to a UPS Access Point, awaiting pickup
    "ZP": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "011": ShipmentStatus.DELIVERED,
    "KB": ShipmentStatus.DELIVERED,
    "012": ShipmentStatus.EXCEPTION,  # clarification required
    "013": ShipmentStatus.EXCEPTION,  # exception, action required
}
SERVICES = {
    "standard": "11",
    "domicile": "11",
    "express-saver": "65",
    "express": "07",
    "expedited": "08",
    "access-point": "70",  # UPS Access Point Economy
    "point-relais": "70",
}
REASONS = {
    "sale": "SALE",
    "gift": "GIFT",
    "sample": "SAMPLE",
    "return": "RETURN",
    "repair": "REPAIR",
    "documents": "SAMPLE",
    "other": "SALE",
}
# UPS Locator: Day "1" is Sunday … "7" Saturday → ISO weekdays.
UPS_DAYS = {"1": 7, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
SANDBOX_CODES = {
    "taken": "P",
    "transit": "I",
    "arrived": "W",
    "out": "O",
    "delivered": "D",
    "relay": "2Q",
    "collected": "D",
    "failed": "X",
    "returned": "RS",
}
EVENT_STATUS = {**STATUS_TYPES, **STATUS_CODES}


def _errors(response) -> str:
    body = response.json()
    errors = ((body or {}).get("response") or {}).get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{e.get('message') or ''} ({e.get('code') or ''})" for e in errors)
    return ""


def _party(address: Address, *, number: str = "") -> dict:
    party = {
        "Name": (address.company or address.name)[:35],
        "AttentionName": address.name[:35],
        "Phone": {"Number": address.phone or "0000000000"},
        "Address": {
            "AddressLine": [line[:35] for line in (address.line1, address.line2) if line],
            "City": address.city[:30],
            "PostalCode": address.postcode,
            "CountryCode": address.country.upper(),
        },
    }
    if address.email:
        party["EMailAddress"] = address.email
    if number:
        party["ShipperNumber"] = number
    return party


def gif_to_pdf(image: bytes, *, size: str) -> bytes:
    """UPS's label image (landscape GIF) turned upright on one PDF page: 4×6 in, or A6 (105 × 148 mm)."""
    from PIL import Image

    picture = Image.open(io.BytesIO(image)).convert("L")
    if picture.width > picture.height:
        picture = picture.rotate(-90, expand=True)
    width_in = 4.0 if size == "4x6" else 105 / 25.4
    buffer = io.BytesIO()
    picture.save(buffer, "PDF", resolution=picture.width / width_in)
    return buffer.getvalue()


def _list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class UpsAdapter(CarrierAdapter):
    code = "ups"
    name = "UPS"
    supports = frozenset(
        {LABEL, LABEL_PDF, LABEL_ZPL, RETURN_LABEL, CANCEL_LABEL, TRACKING, RELAY_SEARCH, CUSTOMS}
    )
    tracking_url_template = "https://www.ups.com/track?loc=fr_FR&tracknum={number}"
    base_url = "https://onlinetools.ups.com"
    test_base_url = "https://wwwcie.ups.com"
    credentials = (
        ("client_id", _("Client ID"), False),
        ("client_secret", _("Client secret"), True),
        ("account_number", _("Shipper number"), False),
    )
    event_status = EVENT_STATUS
    sandbox_codes = SANDBOX_CODES

    def _headers(self) -> dict:
        client_id, secret, account = self.require("client_id", "client_secret", "account_number")
        token = self.oauth_token(
            f"{self.api_root}/security/v1/oauth/token",
            client_id=client_id,
            client_secret=secret,
            basic=True,
            error_message=_errors,
        )
        return {
            "Authorization": f"Bearer {token}",
            "transId": uuid.uuid4().hex[:32],
            "transactionSrc": "oms",
            "Content-Type": "application/json",
        }

    def service(self, request: LabelRequest) -> str:
        code = request.service_code
        value = code if code.isupper() or code.isdigit() else SERVICES.get(code, "")
        if request.relay_id and not value:
            value = "70"
        if not value:
            raise PermanentCarrierError(
                f"No UPS service for {code!r}.", carrier=self.code, code="unknown_service"
            )
        return value

    def shipment_body(self, request: LabelRequest, *, is_return: bool = False) -> dict:
        (account,) = self.require("account_number")
        zpl = bool(request.formats) and request.formats[0] == "zpl"
        shipment = {
            "Description": "Marchandises",
            "Shipper": _party(request.recipient if is_return else request.sender, number=account),
            "ShipTo": _party(request.recipient),
            "ShipFrom": _party(request.sender),
            "PaymentInformation": {
                "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": account}}]
            },
            "Service": {"Code": self.service(request)},
            "ReferenceNumber": {"Value": request.reference[:35]},
            "Package": [
                {
                    "Packaging": {"Code": "02"},
                    "PackageWeight": {
                        "UnitOfMeasurement": {"Code": "KGS"},
                        "Weight": f"{max(request.weight_g, 100) / 1000:.1f}",
                    },
                }
            ],
        }
        if request.relay_id:
            shipment["ShipmentIndicationType"] = {"Code": "01"}  # hold for pickup at an Access Point
            shipment["AlternateDeliveryAddress"] = {
                "UPSAccessPointID": request.relay_id,
                "Name": request.recipient.name[:35],
                "Address": _party(request.recipient)["Address"],
            }
        if is_return:
            shipment["ReturnService"] = {"Code": "9"}
        if request.customs:
            customs = request.customs
            shipment["ShipmentServiceOptions"] = {
                "InternationalForms": {
                    "FormType": ["01"],
                    "InvoiceNumber": customs.invoice_number or request.reference,
                    "InvoiceDate": (request.deposit_date or timezone.localdate().isoformat()).replace(
                        "-", ""
                    ),
                    "ReasonForExport": REASONS.get(customs.reason, "SALE"),
                    "CurrencyCode": customs.currency,
                    "Product": [
                        {
                            "Description": [line.description[:35]],
                            "CommodityCode": line.hs_code,
                            "OriginCountryCode": line.origin_country,
                            "Unit": {
                                "Number": str(line.quantity),
                                "Value": f"{line.unit_value:.2f}",
                                "UnitOfMeasurement": {"Code": "PCS"},
                            },
                            "ProductWeight": {
                                "UnitOfMeasurement": {"Code": "KGS"},
                                "Weight": f"{max(line.weight_g, 100) / 1000:.1f}",
                            },
                        }
                        for line in customs.lines
                    ],
                }
            }
        return {
            "ShipmentRequest": {
                "Request": {
                    "RequestOption": "nonvalidate",
                    "TransactionReference": {"CustomerContext": request.reference},
                },
                "Shipment": shipment,
                "LabelSpecification": {
                    "LabelImageFormat": {"Code": "ZPL" if zpl else "GIF"},
                    "LabelStockSize": {"Height": "6", "Width": "4"},
                },
            }
        }

    def create_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=False)

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=True)

    def _ship(self, request: LabelRequest, *, is_return: bool) -> Label:
        body = self.shipment_body(request, is_return=is_return)
        response = self.request(
            "POST",
            f"{self.api_root}/api/shipments/v2409/ship",
            json=body,
            headers=self._headers(),
            error_message=_errors,
        )
        try:
            results = response.json()["ShipmentResponse"]["ShipmentResults"]
            package = _list(results["PackageResults"])[0]
            number = str(package["TrackingNumber"])
            image = base64.b64decode(package["ShippingLabel"]["GraphicImage"])
            form = ((results.get("Form") or {}).get("Image") or {}).get("GraphicImage")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RetryableCarrierError(
                "UPS answered without a label.", carrier=self.code, code="bad_answer"
            ) from exc
        zpl = body["ShipmentRequest"]["LabelSpecification"]["LabelImageFormat"]["Code"] == "ZPL"
        return Label(
            tracking_number=number,
            pdf=None if zpl else gif_to_pdf(image, size=request.label_size),
            zpl=image.decode("utf-8", "replace") if zpl else None,
            carrier_reference=str(results.get("ShipmentIdentificationNumber") or ""),
            tracking_url=self.tracking_url(number),
            customs_pdf=base64.b64decode(form) if form else None,
        )

    def cancel_label(self, tracking_number: str) -> None:
        response = self.request(
            "DELETE",
            f"{self.api_root}/api/shipments/v2409/void/cancel/{tracking_number}",
            headers=self._headers(),
            error_message=_errors,
        )
        status = ((response.json().get("VoidShipmentResponse") or {}).get("SummaryResult") or {}).get(
            "Status"
        ) or {}
        if str(status.get("Code")) != "1":
            raise PermanentCarrierError(
                str(status.get("Description") or "UPS did not void the shipment."),
                carrier=self.code,
                code="not_voided",
            )

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        updates = []
        for number in dict.fromkeys(n for n in tracking_numbers if n):
            response = self.request(
                "GET",
                f"{self.api_root}/api/track/v1/details/{number}",
                params={"locale": "fr_FR", "returnSignature": "false"},
                headers=self._headers(),
                ok=(200, 404),
                error_message=_errors,
            )
            body = response.json()
            if response.status_code == 404:
                updates.append(
                    TrackingUpdate(tracking_number=number, error=_errors(response) or "Not found.")
                )
                continue
            shipment = (((body.get("trackResponse") or {}).get("shipment")) or [{}])[0]
            packages = shipment.get("package") or []
            if not packages:
                warnings = "; ".join(w.get("message", "") for w in shipment.get("warnings") or [])
                updates.append(TrackingUpdate(tracking_number=number, error=warnings or "Not found."))
                continue
            events = []
            for activity in packages[0].get("activity") or []:
                status = activity.get("status") or {}
                try:
                    stamp = f"{activity['date']}{activity.get('time') or '000000'}"
                    at = datetime.strptime(stamp, "%Y%m%d%H%M%S")  # noqa: DTZ007 - made aware below
                except (KeyError, ValueError):
                    continue
                code = str(status.get("statusCode") or status.get("code") or status.get("type") or "")
                mapped = STATUS_CODES.get(code) or STATUS_CODES.get(str(status.get("code") or ""))
                if mapped is None:
                    mapped = STATUS_TYPES.get(str(status.get("type") or ""), "")
                place = ((activity.get("location") or {}).get("address") or {}).get("city") or ""
                events.append(
                    CarrierEvent(
                        code=code,
                        status=mapped,
                        label=str(status.get("description") or "")[:255],
                        at=timezone.make_aware(at, timezone.get_default_timezone()),
                        place=str(place)[:120],
                    )
                )
            events.sort(key=lambda e: e.at)
            final = bool(events) and events[-1].status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
            updates.append(TrackingUpdate(tracking_number=number, events=events, final=final))
        return updates

    def search_relay_points(self, search: RelaySearch) -> list[RelayPoint]:
        body = {
            "LocatorRequest": {
                "Request": {"RequestAction": "Locator", "RequestOption": "64"},
                "OriginAddress": {
                    "AddressKeyFormat": {
                        "AddressLine": search.address,
                        "PoliticalDivision2": search.city,
                        "PostcodePrimaryLow": search.postcode,
                        "CountryCode": search.country.upper(),
                    }
                },
                "Translate": {"Locale": "fr_FR"},
                "UnitOfMeasurement": {"Code": "KM"},
                "LocationSearchCriteria": {
                    "AccessPointSearch": {"AccessPointStatus": "01"},
                    "MaximumListSize": str(min(max(search.limit, 1), 50)),
                    "SearchRadius": "20",
                },
            }
        }
        response = self.request(
            "POST",
            f"{self.api_root}/api/locations/v3/search/availabilities/64",
            json=body,
            headers=self._headers(),
            error_message=_errors,
        )
        results = ((response.json().get("LocatorResponse") or {}).get("SearchResults")) or {}
        points = []
        for drop in _list(results.get("DropLocation")):
            address = drop.get("AddressKeyFormat") or {}
            lines = _list(address.get("AddressLine"))
            geocode = drop.get("Geocode") or {}
            days: dict[int, list[tuple[str, str]]] = {}
            for standard in _list((drop.get("OperatingHours") or {}).get("StandardHours")):
                for day in _list(standard.get("DayOfWeek")):
                    iso = UPS_DAYS.get(str(day.get("Day")))
                    opens, closes = str(day.get("OpenHours") or ""), str(day.get("CloseHours") or "")
                    if iso and opens and closes:
                        days.setdefault(iso, []).append(
                            (f"{opens[:2]}:{opens[2:4]}", f"{closes[:2]}:{closes[2:4]}")
                        )
            distance = (drop.get("Distance") or {}).get("Value")
            points.append(
                RelayPoint(
                    id=str(
                        (drop.get("AccessPointInformation") or {}).get("PublicAccessPointID")
                        or drop.get("LocationID")
                        or ""
                    ),
                    name=str(address.get("ConsigneeName") or ""),
                    line1=str(lines[0]) if lines else "",
                    line2=" ".join(str(x) for x in lines[1:]),
                    postcode=str(address.get("PostcodePrimaryLow") or ""),
                    city=str(address.get("PoliticalDivision2") or ""),
                    country=str(address.get("CountryCode") or search.country).upper(),
                    latitude=float(geocode["Latitude"]) if geocode.get("Latitude") else None,
                    longitude=float(geocode["Longitude"]) if geocode.get("Longitude") else None,
                    opening_hours=OpeningHours(days=days),
                    distance_m=int(float(distance) * 1000) if distance else None,
                    kind="AP",
                )
            )
        return points[: search.limit]
