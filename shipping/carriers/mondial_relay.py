"""Mondial Relay: relay search and labels through the SOAP web service ``Web_Services.asmx``.

Every call carries ``Enseigne`` and ``Security``: the upper-case MD5 of the parameter values concatenated
in the order of the WSDL, followed by the private key (encoded in ISO-8859-1, as the service computes it;
the free ``Texte`` field is not part of it). Every answer carries ``STAT``: "0" is success, any other
value an error code (``STATUS_MESSAGES``).

- ``WSI4_PointRelais_Recherche`` (Pays, NumPointRelais, Ville, CP, Latitude, Longitude, Taille, Poids,
  Action, DelaiEnvoi, RayonRecherche, TypeActivite, NACE, NombreResultats): ``PointsRelais`` →
  ``PointRelais_Details[]`` with ``Num``, ``LgAdr1..4``, ``CP``, ``Ville``, ``Pays``, ``Latitude`` /
  ``Longitude`` (decimal commas), ``Horaires_Lundi``… as ``<string>HHMM</string>`` pairs (``0000`` closed).
- ``WSI2_CreationEtiquette``: ``ExpeditionNum`` (the tracking number) and ``URL_Etiquette``, a path on
  www.mondialrelay.com from which the PDF is downloaded (A4 by default; we ask for 10x15). A return label is
  the same call with the customer as ``Expe_*``, the merchant as ``Dest_*``, ``ModeCol`` ``REL`` (the
  customer drops the parcel in any relay: ``COL_Rel`` ``AUTO``) and ``ModeLiv`` ``LCC`` (delivered to the
  merchant's address) — less certain: Mondial Relay's "retour" offer must be open on the account.
- ``WSI2_TracingColisDetaille`` (Enseigne, Expedition, Langue): ``STAT`` 80 (registered), 81 (in Mondial
  Relay's hands), 82 (delivered), 83 (anomaly) are answers, not errors; ``Tracing.ret_WSI2_sub_TracingColis
  Detaille[]`` are the events ``{Libelle, Date (dd/mm/yy), Heure (HH:MM), Lieu, Relais, Pays}`` without a
  code of their own: the code is taken from the wording (``TRACE_WORDS``).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from lxml import etree

from ..models import ShipmentStatus
from .base import (
    LABEL,
    LABEL_PDF,
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

API_URL = "https://api.mondialrelay.com/Web_Services.asmx"
SITE_URL = "https://www.mondialrelay.com"
NS = "http://www.mondialrelay.fr/webservice/"

SEARCH_PARAMS = (
    "Enseigne",
    "Pays",
    "NumPointRelais",
    "Ville",
    "CP",
    "Latitude",
    "Longitude",
    "Taille",
    "Poids",
    "Action",
    "DelaiEnvoi",
    "RayonRecherche",
    "TypeActivite",
    "NACE",
    "NombreResultats",
)
_ADDRESS = ("Langage", "Ad1", "Ad2", "Ad3", "Ad4", "Ville", "CP", "Pays", "Tel1", "Tel2", "Mail")
LABEL_PARAMS = (
    "Enseigne",
    "ModeCol",
    "ModeLiv",
    "NDossier",
    "NClient",
    *(f"Expe_{name}" for name in _ADDRESS),
    *(f"Dest_{name}" for name in _ADDRESS),
    "Poids",
    "Longueur",
    "Taille",
    "NbColis",
    "CRT_Valeur",
    "CRT_Devise",
    "Exp_Valeur",
    "Exp_Devise",
    "COL_Rel_Pays",
    "COL_Rel",
    "LIV_Rel_Pays",
    "LIV_Rel",
    "TAvisage",
    "TReprise",
    "Montage",
    "TRDV",
    "Assurance",
    "Instructions",
)

# Our service codes → Mondial Relay delivery modes (ModeLiv); codes in capitals are taken as they are.
DELIVERY_MODES = {"point-relais": "24R", "locker": "24L", "domicile": "HOM", "relais-xl": "24X"}
RELAY_MODES = {"24R", "24L", "24X", "DRI"}

STATUS_MESSAGES = {
    "1": "Invalid merchant code (Enseigne).",
    "2": "Merchant number empty or unknown.",
    "8": "Invalid password or hash.",
    "9": "Unknown or ambiguous city.",
    "10": "Invalid collection type.",
    "13": "Invalid delivery type.",
    "14": "Invalid delivery relay point.",
    "15": "Invalid delivery relay point country.",
    "20": "Invalid parcel weight.",
    "22": "Invalid parcel size.",
    "24": "Invalid shipment or tracking number.",
    "30": "Invalid address line 1.",
    "35": "Invalid city.",
    "36": "Invalid postcode.",
    "37": "Invalid country.",
    "38": "Invalid phone number.",
    "39": "Invalid e-mail address.",
    "40": "Missing parameters.",
    "67": "Invalid latitude.",
    "68": "Invalid longitude.",
    "70": "Invalid relay point number.",
    "94": "Unknown parcel.",
    "95": "Merchant account not activated.",
    "97": "Invalid security key.",
    "98": "Generic error (invalid parameters).",
    "99": "Generic error of the service.",
}
RETRYABLE_STATUSES = {"99"}
TRACE_PARAMS = ("Enseigne", "Expedition", "Langue")
TRACE_STATS = {"80", "81", "82", "83"}  # tracing answers, not errors
# The tracing events' wording (accents and case dropped) → our code, and the code → our status.
TRACE_WORDS = (
    ("retour", "MR_RETURN"),
    ("anomalie", "MR_ANOMALY"),
    ("livre au destinataire", "MR_DELIVERED"),
    ("recupere", "MR_COLLECTED"),
    ("disponible", "MR_AVAILABLE"),
    ("en cours de livraison", "MR_OUT"),
    ("en cours d'acheminement", "MR_TRANSIT"),
    ("acheminement", "MR_TRANSIT"),
    ("prise en charge", "MR_TAKEN"),
    ("pris en charge", "MR_TAKEN"),
    ("depose", "MR_TAKEN"),
    ("enregistre", "MR_REGISTERED"),
)
EVENT_STATUS = {
    "MR_REGISTERED": ShipmentStatus.LABELLED,
    "MR_TAKEN": ShipmentStatus.HANDED_OVER,
    "MR_TRANSIT": ShipmentStatus.IN_TRANSIT,
    "MR_OUT": ShipmentStatus.OUT_FOR_DELIVERY,
    "MR_AVAILABLE": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "MR_COLLECTED": ShipmentStatus.DELIVERED,
    "MR_DELIVERED": ShipmentStatus.DELIVERED,
    "MR_ANOMALY": ShipmentStatus.EXCEPTION,
    "MR_RETURN": ShipmentStatus.RETURNED,
    "MR_OTHER": "",
}
SANDBOX_CODES = {
    "taken": "MR_TAKEN",
    "transit": "MR_TRANSIT",
    "arrived": "MR_TRANSIT",
    "out": "MR_OUT",
    "delivered": "MR_DELIVERED",
    "relay": "MR_AVAILABLE",
    "collected": "MR_COLLECTED",
    "failed": "MR_ANOMALY",
    "returned": "MR_RETURN",
}


def trace_code(label: str) -> str:
    """The code of a tracing event from its wording (Mondial Relay's events carry none)."""
    plain = unicodedata.normalize("NFKD", label or "").encode("ascii", "ignore").decode().lower()
    return next((code for word, code in TRACE_WORDS if word in plain), "MR_OTHER")


def security(values: dict, private_key: str, order: tuple[str, ...]) -> str:
    """The ``Security`` parameter: MD5 of the values in WSDL order plus the private key, upper case."""
    text = "".join(str(values.get(name) or "") for name in order) + private_key
    return hashlib.md5(text.encode("iso-8859-1", "replace"), usedforsecurity=False).hexdigest().upper()


def envelope(action: str, values: dict) -> bytes:
    fields = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in values.items())
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<soap:Body><{action} xmlns="{NS}">{fields}</{action}></soap:Body></soap:Envelope>'
    ).encode()


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _text(node, name: str) -> str:
    child = node.find(f"{{{NS}}}{name}")
    return (child.text or "").strip() if child is not None else ""


def _float(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except (TypeError, ValueError):
        return None


def _hours(node) -> OpeningHours:
    days = {}
    for index, day in enumerate(("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"), 1):
        holder = node.find(f"{{{NS}}}Horaires_{day}")
        values = (
            [(s.text or "").strip() for s in holder.findall(f"{{{NS}}}string")] if holder is not None else []
        )
        spans = []
        for start, end in zip(values[0::2], values[1::2], strict=False):
            if start and end and (start, end) != ("0000", "0000"):
                spans.append((f"{start[:2]}:{start[2:]}", f"{end[:2]}:{end[2:]}"))
        if spans:
            days[index] = spans
    return OpeningHours(days=days)


class MondialRelayAdapter(CarrierAdapter):
    code = "mondial_relay"
    name = "Mondial Relay"
    supports = frozenset({LABEL, LABEL_PDF, RELAY_SEARCH, RETURN_LABEL, TRACKING})
    tracking_url_template = "https://www.mondialrelay.fr/suivi-de-colis/?numeroExpedition={number}"
    credentials = (
        ("enseigne", _("Merchant code (Enseigne)"), False),
        ("private_key", _("Private key"), True),
    )
    event_status = EVENT_STATUS
    sandbox_codes = SANDBOX_CODES

    def _call(self, action: str, values: dict, order: tuple[str, ...]):
        enseigne, key = self.require("enseigne", "private_key")
        values = {"Enseigne": enseigne, **values}
        values = {name: values.get(name, "") for name in order}
        values["Security"] = security(values, key, order)
        response = self.request(
            "POST",
            API_URL,
            content=envelope(action, values),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}{action}"'},
        )
        try:
            root = etree.fromstring(response.content, parser=_PARSER)  # noqa: S320 - entities and network off
        except etree.XMLSyntaxError as exc:
            raise RetryableCarrierError(
                "Mondial Relay's answer could not be read.", carrier=self.code, code="bad_answer"
            ) from exc
        result = root.find(f".//{{{NS}}}{action}Result")
        if result is None:
            raise RetryableCarrierError(
                "Mondial Relay answered without a result.", carrier=self.code, code="bad_answer"
            )
        stat = _text(result, "STAT")
        if stat != "0" and not (action == "WSI2_TracingColisDetaille" and stat in TRACE_STATS):
            message = STATUS_MESSAGES.get(stat, f"Mondial Relay refused the request (STAT {stat}).")
            error = RetryableCarrierError if stat in RETRYABLE_STATUSES else PermanentCarrierError
            raise error(message, carrier=self.code, code=f"STAT_{stat}")
        return result

    # Relay points

    def search_relay_points(self, search: RelaySearch) -> list[RelayPoint]:
        values = {
            "Pays": search.country.upper(),
            "CP": search.postcode,
            "Ville": "" if search.postcode else search.city,
            "Poids": str(search.weight_g),
            "Action": "24R",
            "RayonRecherche": "20",
            "NombreResultats": str(min(max(search.limit, 1), 30)),
        }
        if search.latitude is not None and search.longitude is not None and not search.postcode:
            values["Latitude"] = f"{search.latitude:.7f}".replace(".", ",")
            values["Longitude"] = f"{search.longitude:.7f}".replace(".", ",")
        result = self._call("WSI4_PointRelais_Recherche", values, SEARCH_PARAMS)
        points = []
        for node in result.iter(f"{{{NS}}}PointRelais_Details"):
            distance = _text(node, "Distance")
            points.append(
                RelayPoint(
                    id=_text(node, "Num"),
                    name=" ".join(filter(None, (_text(node, "LgAdr1"), _text(node, "LgAdr2")))),
                    line1=_text(node, "LgAdr3"),
                    line2=_text(node, "LgAdr4"),
                    postcode=_text(node, "CP"),
                    city=_text(node, "Ville"),
                    country=_text(node, "Pays") or search.country.upper(),
                    latitude=_float(_text(node, "Latitude")),
                    longitude=_float(_text(node, "Longitude")),
                    opening_hours=_hours(node),
                    distance_m=int(distance) if distance.isdigit() else None,
                    kind=_text(node, "TypeActivite"),
                )
            )
        return points

    # Labels

    @staticmethod
    def _address(prefix: str, address: Address) -> dict:
        return {
            f"{prefix}_Langage": "FR",
            f"{prefix}_Ad1": address.name[:32],
            f"{prefix}_Ad2": address.company[:32],
            f"{prefix}_Ad3": address.line1[:32],
            f"{prefix}_Ad4": address.line2[:32],
            f"{prefix}_Ville": address.city[:26],
            f"{prefix}_CP": address.postcode,
            f"{prefix}_Pays": address.country.upper(),
            f"{prefix}_Tel1": address.phone,
            f"{prefix}_Mail": address.email,
        }

    def delivery_mode(self, request: LabelRequest) -> str:
        code = request.service_code
        mode = code if code.isupper() else DELIVERY_MODES.get(code, "")
        if not mode:
            raise PermanentCarrierError(
                f"No Mondial Relay delivery mode for the service {code!r}.",
                carrier=self.code,
                code="unknown_service",
            )
        if mode in RELAY_MODES and not request.relay_id:
            raise PermanentCarrierError(
                "A relay delivery needs the relay point.", carrier=self.code, code="relay_missing"
            )
        return mode

    def create_label(self, request: LabelRequest) -> Label:
        return self._label(request, is_return=False)

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._label(request, is_return=True)

    def _label(self, request: LabelRequest, *, is_return: bool) -> Label:
        if "pdf" not in request.formats:
            raise PermanentCarrierError(
                "Mondial Relay makes PDF labels only.", carrier=self.code, code="unknown_format"
            )
        mode = "LCC" if is_return else self.delivery_mode(request)
        values = {
            "ModeCol": "REL" if is_return else (self.config.get("collection_mode") or "CCC"),
            "ModeLiv": mode,
            "NDossier": request.reference[:15],
            "NClient": request.reference[:9],
            **self._address("Expe", request.sender),
            **self._address("Dest", request.recipient),
            "Poids": str(max(request.weight_g, 15)),
            "NbColis": "1",
            "CRT_Valeur": "0",
        }
        if mode in RELAY_MODES:
            values["LIV_Rel_Pays"] = request.recipient.country.upper()
            values["LIV_Rel"] = request.relay_id
        if is_return:
            values["COL_Rel_Pays"] = request.sender.country.upper()
            values["COL_Rel"] = "AUTO"
        result = self._call("WSI2_CreationEtiquette", values, LABEL_PARAMS)
        number = _text(result, "ExpeditionNum")
        path = _text(result, "URL_Etiquette")
        if not number or not path:
            raise RetryableCarrierError(
                "Mondial Relay answered without a label.", carrier=self.code, code="bad_answer"
            )
        pdf = self.request("GET", SITE_URL + path.replace("format=A4", "format=10x15")).content
        if not pdf.startswith(b"%PDF"):
            raise RetryableCarrierError(
                "Mondial Relay's label is not a PDF.", carrier=self.code, code="bad_answer"
            )
        return Label(tracking_number=number, pdf=pdf, tracking_url=self.tracking_url(number))

    # Tracking

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        updates = []
        for number in dict.fromkeys(n for n in tracking_numbers if n):
            try:
                result = self._call(
                    "WSI2_TracingColisDetaille", {"Expedition": number, "Langue": "FR"}, TRACE_PARAMS
                )
            except PermanentCarrierError as exc:
                updates.append(TrackingUpdate(tracking_number=number, error=exc.message))
                continue
            events = []
            for node in result.iter(f"{{{NS}}}ret_WSI2_sub_TracingColisDetaille"):
                label = _text(node, "Libelle")
                day, hour = _text(node, "Date"), _text(node, "Heure") or "00:00"
                if not label or not day:
                    continue
                try:
                    at = datetime.strptime(f"{day} {hour}", "%d/%m/%y %H:%M")  # noqa: DTZ007 - local time, made aware below
                except ValueError:
                    continue
                code = trace_code(label)
                events.append(
                    CarrierEvent(
                        code=code,
                        status=EVENT_STATUS[code],
                        label=label[:255],
                        at=timezone.make_aware(at, timezone.get_default_timezone()),
                        place=" ".join(filter(None, (_text(node, "Lieu"), _text(node, "Pays"))))[:120],
                    )
                )
            events.sort(key=lambda e: e.at)
            stat = _text(result, "STAT")
            updates.append(TrackingUpdate(tracking_number=number, events=events, final=stat == "82"))
        return updates
