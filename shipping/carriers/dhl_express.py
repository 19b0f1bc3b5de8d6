"""DHL Express: labels (with the customs declaration and the merchant's logo) through the MyDHL API, and
tracking through DHL's Shipment Tracking – Unified API (``DhlAdapter``).

- ``POST https://express.api.dhl.com/mydhlapi/shipments`` (test: ``…/mydhlapi/test/shipments``), HTTP Basic
  with the MyDHL API key and secret: ``{plannedShippingDateAndTime, pickup.isRequested, productCode,
  accounts [{typeCode: shipper, number}], outputImageProperties {encodingFormat pdf|zpl, imageOptions
  [{typeCode: label, templateName}, {typeCode: invoice, invoiceType: commercial, isRequested}],
  customerLogos [{fileFormat: PNG, content}]}, customerDetails {shipperDetails, receiverDetails
  {postalAddress {postalCode, cityName, countryCode, addressLine1, addressLine2}, contactInformation
  {email, phone, companyName, fullName}}}, content {packages [{weight, dimensions, customerReferences}],
  isCustomsDeclarable, declaredValue, declaredValueCurrency, exportDeclaration {lineItems [{number,
  description, price, quantity {value, unitOfMeasurement}, commodityCodes [{typeCode, value}],
  exportReasonType, manufacturerCountry, weight {netValue, grossValue}}], invoice {number, date},
  exportReason}, description, incoterm, unitOfMeasurement: metric}}``.
- 201: ``{shipmentTrackingNumber, trackingUrl, packages [{trackingNumber}], documents [{typeCode: label |
  invoice, imageFormat, content (base64)}]}``. Refusals: RFC 7807 ``{title, status, detail,
  additionalDetails[]}`` (400/422); 429 past the key's daily or per-second quota.
- Return labels: the customer is the shipper, the merchant the receiver and the payer
  (``accounts [{typeCode: shipper}, {typeCode: payer}]``).
"""

from __future__ import annotations

import base64

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import (
    CUSTOMS,
    LABEL,
    LABEL_BRANDING,
    LABEL_PDF,
    LABEL_ZPL,
    RETURN_LABEL,
    TRACKING,
    Address,
    Label,
    LabelRequest,
    PermanentCarrierError,
    RetryableCarrierError,
)
from .dhl import STATUS_CODES, DhlAdapter

PRODUCTS = {
    "express-worldwide": "P",  # Express Worldwide (non-documents)
    "express-worldwide-eu": "U",
    "express-domestic": "N",
    "express-9h": "K",
    "express-12h": "T",
    "express": "P",
    "domicile": "N",
}
TEMPLATES = {"a6": "ECOM26_A6_002", "4x6": "ECOM26_84_001"}
REASONS = {
    "sale": ("SALE", "permanent"),
    "gift": ("GIFT", "permanent"),
    "sample": ("SAMPLE", "permanent"),
    "return": ("RETURN", "return"),
    "repair": ("REPAIR", "temporary"),
    "documents": ("DOCUMENTS", "permanent"),
    "other": ("OTHER", "permanent"),
}
SANDBOX_CODES = {
    "taken": "pre-transit",
    "transit": "transit",
    "arrived": "transit",
    "out": "transit",
    "delivered": "delivered",
    "relay": "transit",
    "collected": "delivered",
    "failed": "failure",
    "returned": "failure",
}


def _problem(response) -> str:
    body = response.json()
    if not isinstance(body, dict):
        return ""
    details = body.get("additionalDetails") or []
    text = str(body.get("detail") or body.get("title") or body.get("message") or "")
    return "; ".join([text, *[str(d) for d in details]]) if details else text


def _party(address: Address) -> dict:
    return {
        "postalAddress": {
            "postalCode": address.postcode,
            "cityName": address.city[:45],
            "countryCode": address.country.upper(),
            "addressLine1": address.line1[:45],
            **({"addressLine2": address.line2[:45]} if address.line2 else {}),
        },
        "contactInformation": {
            "email": address.email or None,
            "phone": address.phone or "0000000000",
            "companyName": (address.company or address.name)[:100],
            "fullName": address.name[:255],
        },
    }


class DhlExpressAdapter(DhlAdapter):
    code = "dhl_express"
    name = "DHL Express"
    supports = frozenset({LABEL, LABEL_PDF, LABEL_ZPL, RETURN_LABEL, TRACKING, CUSTOMS, LABEL_BRANDING})
    base_url = "https://express.api.dhl.com/mydhlapi"
    test_base_url = "https://express.api.dhl.com/mydhlapi/test"
    credentials = (
        ("username", _("MyDHL API key"), False),
        ("password", _("MyDHL API secret"), True),
        ("account_number", _("Account number"), False),
        ("api_key", _("Tracking API key (DHL-API-Key)"), True),
    )
    event_status = STATUS_CODES
    sandbox_codes = SANDBOX_CODES

    def product(self, request: LabelRequest) -> str:
        code = request.service_code
        value = code if len(code) == 1 and code.isupper() else PRODUCTS.get(code, "")
        if not value:
            raise PermanentCarrierError(
                f"No DHL Express product for {code!r}.", carrier=self.code, code="unknown_service"
            )
        if value == "N" and request.sender.country.upper() != request.recipient.country.upper():
            value = "P"  # domestic product for an international parcel: Express Worldwide
        return value

    def shipment_body(self, request: LabelRequest, *, is_return: bool = False) -> dict:
        (account,) = self.require("account_number")
        fmt = "zpl" if request.formats and request.formats[0] == "zpl" else "pdf"
        day = request.deposit_date or timezone.localdate().isoformat()
        image_options = [
            {"typeCode": "label", "templateName": TEMPLATES.get(request.label_size, TEMPLATES["a6"])}
        ]
        output = {"encodingFormat": fmt, "imageOptions": image_options}
        if request.brand_logo:
            output["customerLogos"] = [
                {"fileFormat": "PNG", "content": base64.b64encode(request.brand_logo).decode()}
            ]
        content = {
            "packages": [
                {
                    "weight": round(max(request.weight_g, 100) / 1000, 3),
                    "dimensions": {"length": 30, "width": 20, "height": 10},
                    "customerReferences": [{"value": request.reference[:35], "typeCode": "CU"}],
                }
            ],
            "isCustomsDeclarable": bool(request.customs),
            "description": "Marchandises",
            "incoterm": "DAP",
            "unitOfMeasurement": "metric",
        }
        if request.customs:
            customs = request.customs
            reason, reason_type = REASONS.get(customs.reason, REASONS["sale"])
            image_options.append({"typeCode": "invoice", "invoiceType": "commercial", "isRequested": True})
            content.update(
                declaredValue=float(customs.total_value),
                declaredValueCurrency=customs.currency,
                exportDeclaration={
                    "lineItems": [
                        {
                            "number": index,
                            "description": line.description[:512],
                            "price": float(line.unit_value),
                            "quantity": {"value": line.quantity, "unitOfMeasurement": "PCS"},
                            "commodityCodes": [{"typeCode": "outbound", "value": line.hs_code}],
                            "exportReasonType": reason_type,
                            "manufacturerCountry": line.origin_country,
                            "weight": {
                                "netValue": round(line.weight_g / 1000, 3),
                                "grossValue": round(line.weight_g / 1000, 3),
                            },
                        }
                        for index, line in enumerate(customs.lines, start=1)
                    ],
                    "invoice": {"number": customs.invoice_number or request.reference, "date": day},
                    "exportReason": reason,
                    "exportReasonType": reason_type,
                },
            )
        accounts = [{"typeCode": "shipper", "number": account}]
        if is_return:
            accounts.append({"typeCode": "payer", "number": account})
        return {
            "plannedShippingDateAndTime": f"{day}T16:00:00 GMT+01:00",
            "pickup": {"isRequested": False},
            "productCode": self.product(request),
            "accounts": accounts,
            "outputImageProperties": output,
            "customerDetails": {
                "shipperDetails": _party(request.sender),
                "receiverDetails": _party(request.recipient),
            },
            "content": content,
        }

    def create_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=False)

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._ship(request, is_return=True)

    def _ship(self, request: LabelRequest, *, is_return: bool) -> Label:
        user, secret = self.require("username", "password")
        body = self.shipment_body(request, is_return=is_return)
        response = self.request(
            "POST",
            f"{self.api_root}/shipments",
            json=body,
            auth=(user, secret),
            headers={
                "Accept": "application/json",
                "Message-Reference": request.reference[:36].ljust(28, "0"),
            },
            ok=(200, 201),
            error_message=_problem,
        )
        try:
            answer = response.json()
            number = str(answer["shipmentTrackingNumber"])
            documents = answer.get("documents") or []
            label = base64.b64decode(next(d["content"] for d in documents if d.get("typeCode") == "label"))
            invoice = next(
                (base64.b64decode(d["content"]) for d in documents if d.get("typeCode") == "invoice"), None
            )
        except (ValueError, KeyError, StopIteration, TypeError) as exc:
            raise RetryableCarrierError(
                "DHL Express answered without a label.", carrier=self.code, code="bad_answer"
            ) from exc
        zpl = body["outputImageProperties"]["encodingFormat"] == "zpl"
        return Label(
            tracking_number=number,
            pdf=None if zpl else label,
            zpl=label.decode("utf-8", "replace") if zpl else None,
            tracking_url=str(answer.get("trackingUrl") or self.tracking_url(number)),
            customs_pdf=invoice,
        )
