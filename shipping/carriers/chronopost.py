"""Chronopost: labels, return labels and cancellation through Chronopost's SOAP web services; tracking
stays on La Poste's Suivi v2 (``LaPosteTrackingMixin``).

- ``https://ws.chronopost.fr/shipping-cxf/ShippingServiceWS`` (namespace
  ``http://cxf.shipping.soap.chronopost.fr/``), operation ``shippingMultiParcelV4`` with ``headerValue
  {accountNumber, idEmit: CHRFR, subAccount}``, ``shipperValue``, ``customerValue``, ``recipientValue``
  (``…Adress1``, ``…Adress2``, ``…City``, ``…Civility``, ``…ContactName``, ``…Country``, ``…Email``,
  ``…MobilePhone``, ``…Name``, ``…Name2``, ``…Phone``, ``…PreAlert``, ``…ZipCode``), ``refValue
  {customerSkybillNumber, recipientRef, shipperRef, idRelais}``, ``skybillValue {evtCode: DC, objectType:
  MAR, productCode, service, shipDate, shipHour, weight, weightUnit: KGM, customsValue, customsCurrency}``,
  ``skybillParamsValue {mode: PDF|PPR|THE|ZPL|ZPL300}``, ``password``, ``modeRetour``, ``numberOfParcel``,
  ``version``, ``multiParcel``. The answer ``return {errorCode (0 = OK), errorMessage,
  resultMultiParcelValue[] {skybillNumber, pdfEtiquette (base64)}}``; a refusal keeps HTTP 200 with a
  non-zero ``errorCode`` (3 = bad account or password, 33 = bad postcode, ...).
- Cancellation: ``TrackingServiceWS`` ``cancelSkybill {accountNumber, password, language, skybillNumber}``
  → ``return.errorCode`` 0.

Chronopost's web service takes the parcel's customs value but not the lines: parcels that need a CN23 get
ours printed with the label.
"""

from __future__ import annotations

import base64

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import soap
from .base import (
    CANCEL_LABEL,
    LABEL,
    LABEL_PDF,
    LABEL_ZPL,
    RETURN_LABEL,
    TRACKING,
    Address,
    CarrierAdapter,
    Label,
    LabelRequest,
    PermanentCarrierError,
    RetryableCarrierError,
)
from .laposte import EVENT_STATUS, LaPosteTrackingMixin

NS = "http://cxf.shipping.soap.chronopost.fr/"
TRACKING_NS = "http://cxf.tracking.soap.chronopost.fr/"
SHIPPING_URL = "https://ws.chronopost.fr/shipping-cxf/ShippingServiceWS"
TRACKING_URL = "https://ws.chronopost.fr/tracking-cxf/TrackingServiceWS"
# Our service codes → Chronopost product codes; codes in capitals or digits are taken as they are.
PRODUCTS = {
    "chrono13": "01",
    "chrono10": "02",
    "chrono18": "16",
    "domicile": "01",
    "express": "02",
    "relais": "86",  # Chrono Relais 13
    "point-relais": "86",
    "classic": "44",  # Chrono Classic (international)
    "international": "17",  # Chrono Express (international)
}
RETURN_PRODUCT = "4T"  # Chrono Retour (prepaid return, dropped at a post office or relay)
MODES = {("pdf", "a6"): "PDF", ("pdf", "4x6"): "THE", ("zpl", "a6"): "ZPL", ("zpl", "4x6"): "ZPL"}
ERRORS_RETRYABLE = {"1"}  # "system error": Chronopost asks to try again
SANDBOX_CODES = {
    "taken": "PC1",
    "transit": "ET1",
    "arrived": "EP1",
    "out": "MD2",
    "delivered": "DI1",
    "relay": "AG1",
    "collected": "DI1",
    "failed": "ND1",
    "returned": "RE1",
}


def _party(prefix: str, address: Address) -> dict:
    return {
        f"{prefix}Adress1": address.line1[:38],
        f"{prefix}Adress2": address.line2[:38],
        f"{prefix}City": address.city[:50],
        f"{prefix}Civility": "M",
        f"{prefix}ContactName": address.name[:100],
        f"{prefix}Country": address.country.upper(),
        f"{prefix}Email": address.email,
        f"{prefix}MobilePhone": address.phone,
        f"{prefix}Name": (address.company or address.name)[:100],
        f"{prefix}Name2": address.name[:100] if address.company else "",
        f"{prefix}Phone": address.phone,
        f"{prefix}PreAlert": 0,
        f"{prefix}ZipCode": address.postcode,
    }


class ChronopostAdapter(LaPosteTrackingMixin, CarrierAdapter):
    code = "chronopost"
    name = "Chronopost"
    supports = frozenset({LABEL, LABEL_PDF, LABEL_ZPL, RETURN_LABEL, CANCEL_LABEL, TRACKING})
    tracking_url_template = "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={number}"
    credentials = (
        ("account_number", _("Account number"), False),
        ("password", _("Web-service password"), True),
        ("okapi_key", _("La Poste Okapi key (tracking)"), True),
    )
    event_status = EVENT_STATUS
    sandbox_codes = SANDBOX_CODES

    def product(self, request: LabelRequest) -> str:
        code = request.service_code
        value = code if code.isupper() or code.isdigit() else PRODUCTS.get(code, "")
        if request.relay_id and not value:
            value = "86"
        if not value:
            raise PermanentCarrierError(
                f"No Chronopost product for {code!r}.", carrier=self.code, code="unknown_service"
            )
        return value

    def label_body(self, request: LabelRequest, *, product: str) -> dict:
        account, password = self.require("account_number", "password")
        fmt = "zpl" if request.formats and request.formats[0] == "zpl" else "pdf"
        now = timezone.localtime()
        skybill = {
            "evtCode": "DC",
            "objectType": "MAR",
            "productCode": product,
            "service": "0",
            "shipDate": (request.deposit_date or now.date().isoformat()) + "T00:00:00",
            "shipHour": now.hour,
            "weight": f"{request.weight_g / 1000:.2f}",
            "weightUnit": "KGM",
        }
        if request.customs:
            skybill.update(
                customsValue=f"{request.customs.total_value:.2f}", customsCurrency=request.customs.currency
            )
        return {
            "headerValue": {"accountNumber": account, "idEmit": "CHRFR", "identWebPro": "", "subAccount": ""},
            "shipperValue": _party("shipper", request.sender),
            "customerValue": _party("customer", request.sender),
            "recipientValue": _party("recipient", request.recipient),
            "refValue": {
                "customerSkybillNumber": request.reference[:15],
                "recipientRef": request.reference[:35],
                "shipperRef": request.reference[:35],
                "idRelais": request.relay_id,
            },
            "skybillValue": skybill,
            "skybillParamsValue": {"mode": MODES[(fmt, "4x6" if request.label_size == "4x6" else "a6")]},
            "password": password,
            "modeRetour": "2",
            "numberOfParcel": 1,
            "version": "2.0",
            "multiParcel": "N",
        }

    def create_label(self, request: LabelRequest) -> Label:
        return self._shipping(request, product=self.product(request))

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._shipping(request, product=RETURN_PRODUCT)

    def _shipping(self, request: LabelRequest, *, product: str) -> Label:
        body = self.label_body(request, product=product)
        response = self.request(
            "POST",
            SHIPPING_URL,
            content=soap.envelope("shippingMultiParcelV4", body, ns=NS, qualified=False),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            ok=(200, 500),
            error_message=soap.fault_message,
        )
        root = soap.parse(self, response)
        code = soap.text(root, "errorCode") or "0"
        if code != "0":
            message = soap.text(root, "errorMessage") or f"Chronopost refused the label (error {code})."
            error = RetryableCarrierError if code in ERRORS_RETRYABLE else PermanentCarrierError
            raise error(message, carrier=self.code, code=f"error_{code}")
        result = soap.local(root, "resultMultiParcelValue")
        number = soap.text(result, "skybillNumber") if result is not None else ""
        encoded = soap.text(result, "pdfEtiquette") if result is not None else ""
        if not number or not encoded:
            raise RetryableCarrierError(
                "Chronopost answered without a label.", carrier=self.code, code="bad_answer"
            )
        data = base64.b64decode(encoded)
        zpl = body["skybillParamsValue"]["mode"].startswith("ZPL")
        return Label(
            tracking_number=number,
            pdf=None if zpl else data,
            zpl=data.decode("utf-8", "replace") if zpl else None,
            tracking_url=self.tracking_url(number),
        )

    def cancel_label(self, tracking_number: str) -> None:
        account, password = self.require("account_number", "password")
        response = self.request(
            "POST",
            TRACKING_URL,
            content=soap.envelope(
                "cancelSkybill",
                {
                    "accountNumber": account,
                    "password": password,
                    "language": "fr_FR",
                    "skybillNumber": tracking_number,
                },
                ns=TRACKING_NS,
                qualified=False,
            ),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            ok=(200, 500),
            error_message=soap.fault_message,
        )
        root = soap.parse(self, response)
        code = soap.text(root, "errorCode") or "0"
        if code != "0":
            raise PermanentCarrierError(
                soap.text(root, "errorMessage") or f"Chronopost did not cancel the label (error {code}).",
                carrier=self.code,
                code=f"error_{code}",
            )
