"""Colissimo: labels and return labels through the SLS web service (REST), pickup points through the
"point retrait" web service, tracking through La Poste's Suivi v2.

- ``POST https://ws.colissimo.fr/sls-ws/SlsServiceWSRest/2.0/generateLabel``: the body carries
  ``contractNumber`` + ``password`` (or an ``apiKey`` header), ``outputFormat`` and ``letter``. The answer
  is ``multipart/related``: a JSON part (Content-ID ``<jsonInfos>``) with ``labelV2Response.parcelNumber``
  and ``messages``, and the label itself (Content-ID ``<label>``), PDF bytes or ZPL text. A refusal is a
  400 whose ``messages`` carry ``type: ERROR`` with an ``id`` and ``messageContent``.
- ``POST https://ws.colissimo.fr/pointretrait-ws-cxf/rest/v2/pointretrait/findRDVPointRetraitAcheminement``:
  ``errorCode`` 0 and ``listePointRetraitAcheminement[]`` (``identifiant``, ``nom``, ``adresse1..3``,
  ``codePostal``, ``localite``, ``coordGeolocalisationLatitude/Longitude``, ``horairesOuvertureLundi``
  … as ``"09:00-12:00 14:00-18:00"``, ``typeDePoint``, ``distanceEnMetre``); a refusal keeps HTTP 200 with
  a non-zero ``errorCode`` and ``errorMessage``.

Unused Colissimo labels are not billed and SLS offers no cancellation: ``cancel_label`` is not supported.
"""

from __future__ import annotations

import json
import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import (
    LABEL,
    LABEL_PDF,
    LABEL_ZPL,
    RELAY_SEARCH,
    RETURN_LABEL,
    TRACKING,
    Address,
    CarrierAdapter,
    Label,
    LabelRequest,
    OpeningHours,
    PermanentCarrierError,
    RelayPoint,
    RelaySearch,
    RetryableCarrierError,
)
from .laposte import EVENT_STATUS, LaPosteTrackingMixin

SLS_URL = "https://ws.colissimo.fr/sls-ws/SlsServiceWSRest/2.0/generateLabel"
PICKUP_URL = (
    "https://ws.colissimo.fr/pointretrait-ws-cxf/rest/v2/pointretrait/findRDVPointRetraitAcheminement"
)

OUTPUT_FORMATS = {"pdf": "PDF_10x15_300dpi", "zpl": "ZPL_10x15_203dpi"}
# Our service codes (CarrierService.code) → Colissimo product codes. A code given in capitals is taken as a
# Colissimo product code as it is (DOM, DOS, A2P, BPR, COLI, CORE, ...).
PRODUCT_CODES = {
    "domicile": "DOM",
    "domicile-signature": "DOS",
    "point-retrait": "A2P",
    "expert": "COLI",
    "retour": "CORE",
}
RETURN_PRODUCT = "CORE"  # Colissimo Retour France
RELAY_PRODUCTS = {"A2P", "BPR", "CMT", "PCS", "BDP", "ACP", "CDI"}
WEEKDAYS_FR = ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"]


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """A ``multipart/related`` answer → ``{content_id: (content_type, bytes)}`` (ids without ``<>``)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match:
        raise ValueError("no multipart boundary")
    delimiter = b"--" + match.group(1).encode()
    parts = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        head, separator, content = chunk.partition(b"\r\n\r\n")
        if not separator:
            head, separator, content = chunk.partition(b"\n\n")
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        content = content.removesuffix(b"\r\n").removesuffix(b"\n")
        content_id = headers.get("content-id", "").strip("<>") or str(len(parts))
        parts[content_id] = (headers.get("content-type", ""), content)
    return parts


def _messages_error(payload: dict) -> tuple[str, str]:
    """The first ERROR message of an SLS answer: ``(id, text)``, or ``("", "")``."""
    for message in payload.get("messages") or []:
        if str(message.get("type", "")).upper() == "ERROR":
            return str(message.get("id") or ""), str(message.get("messageContent") or "")
    return "", ""


def _sls_error_message(response) -> str:
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        for part_type, content in parse_multipart(content_type, response.content).values():
            if "json" in part_type:
                code, text = _messages_error(json.loads(content))
                return f"{text} ({code})" if code else text
        return ""
    code, text = _messages_error(response.json())
    return f"{text} ({code})" if code else text


def _hours(point: dict) -> OpeningHours:
    days = {}
    for index, day in enumerate(WEEKDAYS_FR, start=1):
        spans = []
        for span in str(point.get(f"horairesOuverture{day}") or "").split():
            start, _, end = span.partition("-")
            if start and end and (start, end) != ("00:00", "00:00"):
                spans.append((start, end))
        if spans:
            days[index] = spans
    return OpeningHours(days=days)


def _float(value) -> float | None:
    try:
        return float(str(value).replace(",", "."))
    except (TypeError, ValueError):
        return None


class ColissimoAdapter(LaPosteTrackingMixin, CarrierAdapter):
    code = "colissimo"
    name = "Colissimo"
    supports = frozenset({LABEL, LABEL_PDF, LABEL_ZPL, RETURN_LABEL, RELAY_SEARCH, TRACKING})
    credentials = (
        ("contract_number", _("Contract number"), False),
        ("password", _("Web-service password"), True),
        ("api_key", _("API key (instead of contract number and password)"), True),
        ("okapi_key", _("La Poste Okapi key (tracking)"), True),
    )
    event_status = EVENT_STATUS
    sandbox_codes = {
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

    # Labels

    def _auth(self) -> tuple[dict, dict]:
        """(body fields, headers): the API key when configured, else contract number and password."""
        if self.config.get("api_key"):
            return {}, {"apiKey": self.config["api_key"]}
        contract, password = self.require("contract_number", "password")
        return {"contractNumber": contract, "password": password}, {}

    @staticmethod
    def _address(address: Address) -> dict:
        first, last = address.first_last
        return {
            "companyName": address.company or None,
            "lastName": last or None,
            "firstName": first or None,
            "line2": address.line1,
            "line3": address.line2 or None,
            "countryCode": address.country.upper(),
            "city": address.city,
            "zipCode": address.postcode,
            "phoneNumber": address.phone or None,
            "mobileNumber": address.phone if address.phone.startswith(("+336", "+337", "06", "07")) else None,
            "email": address.email or None,
        }

    def product_code(self, request: LabelRequest) -> str:
        code = request.service_code
        product = code if code.isupper() else PRODUCT_CODES.get(code, "")
        if request.relay_id:
            # The product of a relay delivery is the point's type (post office, shop, locker...).
            if request.relay_kind in RELAY_PRODUCTS:
                product = request.relay_kind
            elif product not in RELAY_PRODUCTS:
                product = "A2P"
        if not product:
            raise PermanentCarrierError(
                f"No Colissimo product for the service {code!r}.", carrier=self.code, code="unknown_service"
            )
        return product

    def label_body(self, request: LabelRequest, *, product: str, fmt: str) -> dict:
        auth, _headers = self._auth()
        return {
            **auth,
            "outputFormat": {"x": 0, "y": 0, "outputPrintingType": OUTPUT_FORMATS[fmt]},
            "letter": {
                "service": {
                    "productCode": product,
                    "depositDate": request.deposit_date or timezone.localdate().isoformat(),
                    "orderNumber": request.reference,
                    "commercialName": request.sender.company or request.sender.name,
                },
                "parcel": {
                    "weight": round(request.weight_g / 1000, 3),
                    **({"pickupLocationId": request.relay_id} if request.relay_id else {}),
                },
                "sender": {"senderParcelRef": request.reference, "address": self._address(request.sender)},
                "addressee": {
                    "addresseeParcelRef": request.reference,
                    "address": self._address(request.recipient),
                },
            },
        }

    def create_label(self, request: LabelRequest) -> Label:
        return self._generate(request, product=self.product_code(request))

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._generate(request, product=RETURN_PRODUCT)

    def _generate(self, request: LabelRequest, *, product: str) -> Label:
        fmt = next((f for f in request.formats if f in OUTPUT_FORMATS), None)
        if fmt is None:
            raise PermanentCarrierError(
                "Colissimo makes PDF or ZPL labels.", carrier=self.code, code="unknown_format"
            )
        _auth, headers = self._auth()
        response = self.request(
            "POST",
            self.config.get("sls_url") or SLS_URL,
            json=self.label_body(request, product=product, fmt=fmt),
            headers=headers,
            error_message=_sls_error_message,
        )
        try:
            parts = parse_multipart(response.headers.get("content-type", ""), response.content)
            info = json.loads(parts["jsonInfos"][1])
        except (ValueError, KeyError) as exc:
            raise RetryableCarrierError(
                "Colissimo's answer could not be read.", carrier=self.code, code="bad_answer"
            ) from exc
        error_id, error_text = _messages_error(info)
        if error_id:
            raise PermanentCarrierError(f"{error_text} ({error_id})", carrier=self.code, code=error_id)
        number = str((info.get("labelV2Response") or {}).get("parcelNumber") or "")
        label = parts.get("label", ("", b""))[1]
        if not number or not label:
            raise RetryableCarrierError(
                "Colissimo answered without a label.", carrier=self.code, code="bad_answer"
            )
        if fmt == "pdf":
            return Label(tracking_number=number, pdf=label, tracking_url=self.tracking_url(number))
        return Label(
            tracking_number=number,
            zpl=label.decode("utf-8", "replace").lstrip("\ufeff"),
            tracking_url=self.tracking_url(number),
        )

    # Relay points

    def search_relay_points(self, search: RelaySearch) -> list[RelayPoint]:
        contract, password = self.require("contract_number", "password")
        body = {
            "accountNumber": contract,
            "password": password,
            "address": search.address,
            "zipCode": search.postcode,
            "city": search.city,
            "countryCode": search.country.upper(),
            "weight": search.weight_g,
            "shippingDate": timezone.localdate().strftime("%d/%m/%Y"),
            "filterRelay": "1",  # relay shops as well as post offices
            "lang": "FR",
            "optionInter": "0" if search.country.upper() == "FR" else "1",
        }
        response = self.request(
            "POST", PICKUP_URL, json=body, error_message=lambda r: r.json().get("errorMessage")
        )
        try:
            payload = response.json()
        except ValueError as exc:
            raise RetryableCarrierError(
                "Colissimo's answer could not be read.", carrier=self.code, code="bad_answer"
            ) from exc
        if int(payload.get("errorCode") or 0) != 0:
            raise PermanentCarrierError(
                str(payload.get("errorMessage") or "Colissimo refused the search."),
                carrier=self.code,
                code=str(payload.get("errorCode")),
            )
        points = []
        for point in payload.get("listePointRetraitAcheminement") or []:
            points.append(
                RelayPoint(
                    id=str(point.get("identifiant") or ""),
                    name=" ".join(str(point.get("nom") or "").split()),
                    line1=str(point.get("adresse1") or ""),
                    line2=" ".join(filter(None, (point.get("adresse2"), point.get("adresse3")))),
                    postcode=str(point.get("codePostal") or ""),
                    city=str(point.get("localite") or ""),
                    country=str(point.get("codePays") or search.country).upper(),
                    latitude=_float(point.get("coordGeolocalisationLatitude")),
                    longitude=_float(point.get("coordGeolocalisationLongitude")),
                    opening_hours=_hours(point),
                    distance_m=point.get("distanceEnMetre"),
                    kind=str(point.get("typeDePoint") or ""),
                )
            )
        return points[: search.limit]
