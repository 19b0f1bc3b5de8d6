"""The sandbox carrier: everything a real carrier does, made locally, for demos and tests.

- Labels: a real A6 PDF (WeasyPrint) with a Code 128 barcode of the tracking number (python-barcode), and
  the same label in ZPL. The tracking number is derived from the reference, so asking twice for the same
  parcel gives the same number (idempotent, as a retried Celery task needs).
- Relay points: the invented network of ``shipping/data/sandbox_relay_points.csv``, nearest first.
- Tracking: advances with time from the shipment's hand-over (``Shipment.shipped_at``), deterministically:
  taken in charge, in transit, arrived at the delivery site, then out for delivery and delivered (home) or
  available at the relay and collected (relay). ``SANDBOX_CARRIER_FAILURE_RATE`` (0 to 1) makes that share
  of parcels fail delivery (chosen by the tracking number's hash, so a test knows which ones): the parcel
  is then undeliverable and goes back to the sender.
- Webhooks: ``{"tracking_number", "events": [{"code", "at", "label", "place"}]}`` signed with
  HMAC-SHA256 of the raw body by ``SANDBOX_WEBHOOK_SECRET`` in the ``X-Sandbox-Signature`` header (hex).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from common.text import find_bad_text, safe_text

from .. import geo
from ..models import ShipmentStatus
from .base import (
    CANCEL_LABEL,
    CUSTOMS,
    LABEL,
    LABEL_BRANDING,
    LABEL_PDF,
    LABEL_ZPL,
    RELAY_DIRECTORY,
    RELAY_SEARCH,
    RETURN_LABEL,
    TRACKING,
    WEBHOOK,
    CarrierAdapter,
    CarrierEvent,
    Label,
    LabelRequest,
    OpeningHours,
    PermanentCarrierError,
    RelayPoint,
    RelaySearch,
    TrackingUpdate,
    WebhookRejected,
    WebhookUnreadable,
)

RELAY_DATA = Path(__file__).resolve().parent.parent / "data" / "sandbox_relay_points.csv"
SIGNATURE_HEADER = "X-Sandbox-Signature"

# The sandbox's event codes (La Poste's, prefixed), our status, and the carrier's text.
EVENTS = {
    "SBX_PC": (ShipmentStatus.HANDED_OVER, "Colis pris en charge par le transporteur"),
    "SBX_ET1": (ShipmentStatus.IN_TRANSIT, "Colis en cours d'acheminement"),
    "SBX_ET2": (ShipmentStatus.IN_TRANSIT, "Colis arrivé sur le site de livraison"),
    "SBX_MD": (ShipmentStatus.OUT_FOR_DELIVERY, "Colis en cours de livraison"),
    "SBX_DI": (ShipmentStatus.DELIVERED, "Colis livré"),
    "SBX_AG": (ShipmentStatus.AVAILABLE_FOR_PICKUP, "Colis disponible dans le point relais"),
    "SBX_DR": (ShipmentStatus.DELIVERED, "Colis retiré au point relais"),
    "SBX_ND": (ShipmentStatus.EXCEPTION, "Colis non distribuable : destinataire absent, adresse incomplète"),
    "SBX_RE": (ShipmentStatus.RETURNED, "Colis retourné à l'expéditeur"),
}
FINAL_CODES = {"SBX_DI", "SBX_DR", "SBX_RE"}
# Each sandbox step by name: when the sandbox plays a carrier it reports that carrier's own code of the step
# (``<Adapter>.sandbox_codes``), mapped by that carrier's own table (``<Adapter>.event_status``).
STEPS = {
    "SBX_PC": "taken",
    "SBX_ET1": "transit",
    "SBX_ET2": "arrived",
    "SBX_MD": "out",
    "SBX_DI": "delivered",
    "SBX_AG": "relay",
    "SBX_DR": "collected",
    "SBX_ND": "failed",
    "SBX_RE": "returned",
}
# Tracking numbers in each carrier's format: prefix, digits, suffix.
NUMBER_FORMATS = {
    "sandbox": ("SB", 11, "FR"),
    "colissimo": ("6A", 11, ""),
    "chronopost": ("XW", 9, "FR"),
    "mondial_relay": ("", 8, ""),
    "dhl": ("", 10, ""),
    "dhl_express": ("", 10, ""),
    "fedex": ("", 12, ""),
    "ups": ("1Z9R5W90", 10, ""),
    "dpd_fr": ("250", 11, ""),
    "gls": ("ZS", 6, ""),
}


def number_hash(tracking_number: str) -> int:
    return int(hashlib.sha256(tracking_number.encode()).hexdigest()[:12], 16)


def fails_delivery(tracking_number: str, failure_rate: float) -> bool:
    """Whether this parcel fails delivery at this failure rate: a parcel whose hash fraction is below the
    rate fails, so raising the rate only adds failures."""
    fraction = (number_hash(tracking_number) % 10_000) / 10_000
    return fraction < failure_rate


def timeline(
    tracking_number: str, *, handed_over_at: datetime, mode: str = "home", failure_rate: float = 0.0
) -> list[tuple[datetime, str]]:
    """Every event the parcel will ever have, ``(at, code)`` oldest first, from its hand-over."""
    h = number_hash(tracking_number)
    jitter = timedelta(minutes=h % 47)
    taken = handed_over_at + timedelta(hours=1) + jitter
    in_transit = taken + timedelta(hours=5)
    arrived = in_transit + timedelta(hours=12 + (h >> 8) % 6)
    presented = arrived + timedelta(hours=8)
    steps = [(taken, "SBX_PC"), (in_transit, "SBX_ET1"), (arrived, "SBX_ET2")]
    if fails_delivery(tracking_number, failure_rate):
        steps += [
            (presented, "SBX_MD"),
            (presented + timedelta(hours=5), "SBX_ND"),
            (presented + timedelta(days=3), "SBX_RE"),
        ]
    elif mode == "relay":
        collected = presented + timedelta(days=1 + (h >> 16) % 3, hours=2)
        steps += [(presented, "SBX_AG"), (collected, "SBX_DR")]
    else:
        steps += [(presented, "SBX_MD"), (presented + timedelta(hours=3, minutes=(h >> 4) % 120), "SBX_DI")]
    return steps


def played_event(code: str, played=None) -> tuple[str, str, str]:
    """``(carrier code, status, label)`` of a sandbox step as the played carrier reports it."""
    status, label = EVENTS[code]
    if played is None or not getattr(played, "sandbox_codes", None):
        return code, status, label
    own = played.sandbox_codes[STEPS[code]]
    return own, played.event_status.get(own, ""), label


def update_at(
    tracking_number: str,
    *,
    handed_over_at: datetime | None,
    mode: str,
    now: datetime,
    failure_rate: float = 0.0,
    place: str = "",
    played=None,
) -> TrackingUpdate:
    """What the sandbox carrier reports at ``now``: the events of the timeline that have happened (in the
    played carrier's codes when it plays one)."""
    if handed_over_at is None:
        return TrackingUpdate(tracking_number=tracking_number)
    steps = timeline(tracking_number, handed_over_at=handed_over_at, mode=mode, failure_rate=failure_rate)
    events = []
    for at, code in steps:
        if at <= now:
            own, status, label = played_event(code, played)
            events.append(CarrierEvent(code=own, status=status, label=label, at=at, place=place))
    final = bool(steps) and any(at <= now and code in FINAL_CODES for at, code in steps)
    estimated = None if final else steps[-1][0] if mode == "home" else steps[-2][0]
    return TrackingUpdate(
        tracking_number=tracking_number, events=events, final=final, estimated_delivery=estimated
    )


def parse_hours(spec: str) -> OpeningHours:
    """``"1-5 09:00-12:30 14:00-19:00|6 09:00-12:00"`` → opening hours per ISO weekday."""
    days: dict[int, list[tuple[str, str]]] = {}
    for group in filter(None, (g.strip() for g in (spec or "").split("|"))):
        day_part, *spans = group.split()
        first, _, last = day_part.partition("-")
        for day in range(int(first), int(last or first) + 1):
            days[day] = [tuple(span.split("-", 1)) for span in spans]
    return OpeningHours(days=days)


@cache
def relay_network() -> tuple[RelayPoint, ...]:
    with RELAY_DATA.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return tuple(
            RelayPoint(
                id=row["id"],
                name=row["name"],
                line1=row["line1"],
                postcode=row["postcode"],
                city=row["city"],
                country="FR",
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                opening_hours=parse_hours(row["hours"]),
            )
            for row in rows
        )


def _barcode_svg(value: str) -> str:
    """The Code 128 of ``value`` as SVG (base64): the bars as one path, in tenths of a millimetre (0.3 mm
    modules, 18 mm high, 2 mm quiet zones: python-barcode's SVG writer's geometry). Its writer draws a
    ``<rect>`` per bar, which WeasyPrint parses and paints one by one."""
    import barcode

    modules = barcode.get("code128", value).build()[0]
    bars, i = [], 0
    while i < len(modules):
        if modules[i] == "1":
            run = len(modules[i:]) - len(modules[i:].lstrip("1"))
            bars.append(f"M{20 + 3 * i} 10h{3 * run}v180h-{3 * run}z")
            i += run
        else:
            i += 1
    width = 40 + 3 * len(modules)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width / 10:.3f}mm" height="20.000mm" '
        f'viewBox="0 0 {width} 200"><rect width="{width}" height="200" fill="white"/>'
        f'<path fill="black" d="{"".join(bars)}"/></svg>'
    )
    return base64.b64encode(svg.encode()).decode("ascii")


def _zpl_text(value: str) -> str:
    """ZPL field data: ``^`` and ``~`` are commands, so they are dropped; accents are kept (``^CI28``)."""
    return " ".join(str(value or "").replace("^", " ").replace("~", " ").split())


class SandboxAdapter(CarrierAdapter):
    code = "sandbox"
    name = "Sandbox"
    supports = frozenset(
        {
            LABEL,
            LABEL_PDF,
            LABEL_ZPL,
            CUSTOMS,
            LABEL_BRANDING,
            CANCEL_LABEL,
            RETURN_LABEL,
            RELAY_SEARCH,
            RELAY_DIRECTORY,
            TRACKING,
            WEBHOOK,
        }
    )
    tracking_batch_size = 100
    tracking_url_template = ""

    def __init__(self, *, config: Mapping | None = None, client=None, now=None):
        super().__init__(config=config, client=client)
        self._now = now or timezone.now
        self.played = None
        plays = self.config.get("plays")
        if plays and plays != "sandbox":
            from .registry import ADAPTERS

            self.played = ADAPTERS[plays]
            # What the real carrier does, made locally; both label formats and the webhook always.
            self.supports = (self.played.supports & type(self).supports) | {LABEL_PDF, LABEL_ZPL, WEBHOOK}
            if LABEL in self.played.supports:
                self.supports |= {CANCEL_LABEL}
            self.name = f"{self.played.name} (sandbox)"
            self.tracking_url_template = self.played.tracking_url_template

    @property
    def carrier_name(self) -> str:
        return self.played.name if self.played else "SANDBOX"

    @property
    def failure_rate(self) -> float:
        return min(1.0, max(0.0, float(self.config.get("failure_rate") or 0)))

    # Labels

    def tracking_number_for(self, reference: str, *, kind: str = "out") -> str:
        plays = self.played.code if self.played else "sandbox"
        digest = int(hashlib.sha256(f"{plays}:{kind}:{reference}".encode()).hexdigest()[:16], 16)
        if plays == "sandbox":
            return f"{'SR' if kind == 'return' else 'SB'}{digest % 10**11:011d}FR"
        prefix, digits, suffix = NUMBER_FORMATS.get(plays, ("", 12, ""))
        body = f"{digest % 10**digits:0{digits}d}"
        if kind == "return":
            body = "9" + body[1:]  # return labels start with a 9 in the sandbox, whatever the carrier
        return f"{prefix}{body}{suffix}"

    def create_label(self, request: LabelRequest) -> Label:
        return self._label(request, kind="out")

    def create_return_label(self, request: LabelRequest) -> Label:
        return self._label(request, kind="return")

    def _label(self, request: LabelRequest, *, kind: str) -> Label:
        self._validate(request)
        number = self.tracking_number_for(request.reference, kind=kind)
        branded = LABEL_BRANDING in self.supports or self.played is None
        context = {
            "request": request,
            "number": number,
            "kind": kind,
            "carrier": self.carrier_name,
            "size": "4x6" if request.label_size == "4x6" else "a6",
            "weight_kg": f"{request.weight_g / 1000:.2f}",
            "barcode": _barcode_svg(number),
            "brand_text": request.brand_text if branded else "",
            "brand_logo": base64.b64encode(request.brand_logo).decode()
            if branded and request.brand_logo
            else "",
            "customs": request.customs,
        }
        pdf = zpl = None
        if "pdf" in request.formats:
            from weasyprint import HTML

            html = render_to_string("shipping/labels/sandbox_label.html", context)
            pdf = HTML(string=html).write_pdf()
        if "zpl" in request.formats:
            zpl = self._zpl(request, number, kind, brand_text=context["brand_text"])
        return Label(
            tracking_number=number,
            pdf=pdf,
            zpl=zpl,
            carrier_reference=request.reference,
            tracking_url=self.tracking_url(number),
        )

    def _validate(self, request: LabelRequest) -> None:
        errors = {}
        if request.weight_g <= 0:
            errors["weight_g"] = "The weight must be above zero."
        elif request.weight_g > 30000:
            errors["weight_g"] = "The sandbox carrier takes parcels up to 30 kg."
        for role, address in (("recipient", request.recipient), ("sender", request.sender)):
            for name in ("name", "line1", "postcode", "city"):
                if not getattr(address, name):
                    errors[f"{role}.{name}"] = "Required."
        if not set(request.formats) & {"pdf", "zpl"}:
            errors["formats"] = "Ask for pdf or zpl."
        if request.label_size not in ("a6", "4x6"):
            errors["label_size"] = "The sandbox prints A6 or 4x6 in labels."
        if request.customs is not None:
            if not request.customs.lines:
                errors["customs"] = "The customs declaration has no line."
            for index, line in enumerate(request.customs.lines):
                if not (line.hs_code.isdigit() and 6 <= len(line.hs_code) <= 10):
                    errors[f"customs.lines[{index}].hs_code"] = "6 to 10 digits."
                if len(line.origin_country) != 2:
                    errors[f"customs.lines[{index}].origin_country"] = "Two letters."
        if errors:
            raise PermanentCarrierError(
                "The label request is incomplete.",
                carrier=self.code,
                code="invalid_request",
                status=None,
                details=errors,
            )

    def _zpl(self, request: LabelRequest, number: str, kind: str, *, brand_text: str = "") -> str:
        """4×6 in at 203 dpi is 812 × 1218 dots; A6 (105 × 148 mm) is 838 × 1181."""
        to, sender = request.recipient, request.sender
        width, length = (812, 1218) if request.label_size == "4x6" else (838, 1181)
        lines = [
            "^XA",
            "^CI28",
            f"^PW{width}^LL{length}",
            f"^FO40,40^A0N,40,40^FD{_zpl_text(self.carrier_name.upper())}^FS",
            f"^FO500,40^A0N,30,30^FD{_zpl_text(request.service_code)}^FS",
            "^FO40,110^A0N,24,24^FDExpediteur / Sender^FS",
            f"^FO40,140^A0N,26,26^FD{_zpl_text(sender.company or sender.name)}^FS",
            f"^FO40,170^A0N,26,26^FD{_zpl_text(sender.postcode)} {_zpl_text(sender.city)}^FS",
            "^FO40,230^GB732,3,3^FS",
            "^FO40,250^A0N,24,24^FDDestinataire / Recipient^FS",
            f"^FO40,285^A0N,40,40^FD{_zpl_text(to.name)}^FS",
        ]
        y = 335
        for text in (to.company, to.line1, to.line2):
            if text:
                lines.append(f"^FO40,{y}^A0N,34,34^FD{_zpl_text(text)}^FS")
                y += 42
        lines.append(f"^FO40,{y}^A0N,48,48^FD{_zpl_text(to.postcode)} {_zpl_text(to.city).upper()}^FS")
        if request.relay_id:
            lines.append(f"^FO40,{y + 60}^A0N,30,30^FDRelais {_zpl_text(request.relay_id)}^FS")
        lines += [
            "^FO40,640^GB732,3,3^FS",
            f"^FO40,670^A0N,28,28^FDRef. {_zpl_text(request.reference)}^FS",
            f"^FO500,670^A0N,28,28^FD{request.weight_g / 1000:.2f} kg^FS",
            f"^FO60,730^BY3^BCN,220,Y,N,N^FD{number}^FS",
            "^FO40,1040^A0N,24,24^FD" + ("RETOUR / RETURN" if kind == "return" else "") + "^FS",
        ]
        if request.customs is not None:
            customs = request.customs
            lines.append(f"^FO420,1040^A0N,24,24^FDCN23 {customs.total_value:.2f} {customs.currency}^FS")
        if brand_text:
            lines.append(
                f"^FO40,1090^GB{width - 80},60,2^FS^FO50,1105^A0N,30,30^FD{_zpl_text(brand_text)}^FS"
            )
        lines.append("^XZ")
        return "\n".join(lines) + "\n"

    def cancel_label(self, tracking_number: str) -> None:
        """Nothing is billed in the sandbox: cancelling a label the sandbox made always works."""
        if self.played is not None:
            return
        if not tracking_number.startswith(("SB", "SR")) or not tracking_number.endswith("FR"):
            raise PermanentCarrierError(
                f"Unknown parcel {tracking_number}.", carrier=self.code, code="unknown_parcel"
            )

    # Relay points

    def list_relay_points(self) -> list[RelayPoint]:
        return list(relay_network())

    def search_relay_points(self, search: RelaySearch) -> list[RelayPoint]:
        if search.country.upper() != "FR":
            return []
        point = geo.place(
            postcode=search.postcode,
            country=search.country,
            latitude=search.latitude,
            longitude=search.longitude,
        )
        if point is None:
            return []
        ranked = sorted(
            (
                round(geo.haversine_km(point.latitude, point.longitude, r.latitude, r.longitude) * 1000),
                r.id,
                r,
            )
            for r in relay_network()
        )
        return [
            RelayPoint(**{**relay.__dict__, "distance_m": metres})
            for metres, _id, relay in ranked[: search.limit]
        ]

    # Tracking

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        """Reads the hand-over time and delivery mode of each parcel from ``Shipment`` (the sandbox's
        "carrier system" is our own database); a number no shipment carries is unknown."""
        from ..models import Shipment

        numbers = list(dict.fromkeys(n for n in tracking_numbers if n))
        known = {
            row["tracking_number"]: row
            for row in Shipment.objects.filter(tracking_number__in=numbers).values(
                "tracking_number", "shipped_at", "service__delivery_mode"
            )
        }
        now = self._now()
        updates = []
        for number in numbers:
            row = known.get(number)
            if row is None:
                updates.append(TrackingUpdate(tracking_number=number, error="Unknown parcel."))
                continue
            updates.append(
                update_at(
                    number,
                    handed_over_at=row["shipped_at"],
                    mode=row["service__delivery_mode"] or "home",
                    now=now,
                    failure_rate=self.failure_rate,
                    played=self.played,
                )
            )
        return updates

    # Webhooks

    def sign(self, body: bytes) -> str:
        secret = str(self.config.get("webhook_secret") or "")
        return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> None:
        if not self.config.get("webhook_secret"):
            raise WebhookRejected(
                "SANDBOX_WEBHOOK_SECRET is not set.", carrier=self.code, code="not_configured"
            )
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER.lower(), "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.sign(body).encode()):
            raise WebhookRejected("Bad signature.", carrier=self.code, code="bad_signature", status=401)

    def read_webhook(self, *, headers: Mapping[str, str], body: bytes) -> list[TrackingUpdate]:
        try:
            payload = json.loads(body)
            bad = find_bad_text(payload)
            if bad is not None:
                raise ValueError(f"the string at {bad[0]} contains {bad[1]}")
            number = str(payload["tracking_number"])
            events = []
            for item in payload["events"]:
                code = str(item["code"])
                at = parse_datetime(str(item["at"]))
                if at is None or timezone.is_naive(at):
                    raise ValueError("at must be an ISO 8601 time with its offset")
                if code in EVENTS:
                    code, status, label = played_event(code, self.played)
                elif self.played is not None:
                    status, label = self.played.event_status.get(code, ""), ""
                else:
                    status, label = "", ""
                events.append(
                    CarrierEvent(
                        code=code[:32],
                        status=status,
                        label=str(item.get("label") or label)[:255],
                        at=at,
                        place=str(item.get("place") or "")[:120],
                    )
                )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise WebhookUnreadable(
                safe_text(f"Unreadable webhook: {exc}")[:500], carrier=self.code, code="malformed", status=400
            ) from exc
        events.sort(key=lambda e: e.at)
        final = bool(events) and events[-1].status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
        return [TrackingUpdate(tracking_number=number, events=events, final=final)]
