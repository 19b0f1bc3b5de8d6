"""Read side of the carrier network: services with their price and transit grids, loaded once and looked
up in memory, so a sourcing decision over many locations costs a fixed number of queries."""

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from common.cache import cache_delete, cache_get, cache_set

from . import geo
from .models import (
    Carrier,
    CarrierService,
    NetworkVersion,
    RelayPoint,
    ServiceRate,
    ServiceTransit,
    Shipment,
    ShipmentLine,
    ShippingRule,
    TrackingEvent,
)

NETWORK_VERSION_KEY = "shipping:network:version"
NETWORK_MAX_AGE = 300.0  # seconds: a process re-reads the grids at least this often
NETWORK_VERSION_TTL = 60  # seconds: the cached copy of the version is taken from the database this often
QUOTER_ANSWERS_KEPT = 4096  # weights remembered per distance band
_cached: dict = {"version": None, "loaded": 0.0, "network": None}


@dataclass(frozen=True)
class ServiceQuote:
    service_id: int
    carrier: str
    code: str
    name: str
    mode: str
    price_excl_vat: Decimal
    transit_days: int
    cutoff_time: time
    weekdays: frozenset[int]
    is_express: bool


@dataclass
class _Service:
    service: CarrierService
    rates: list[tuple[int, int, Decimal]] = field(default_factory=list)  # (max_weight_g, max_km, price)
    transits: list[tuple[int, int]] = field(default_factory=list)  # (max_km, days)


class ShippingNetwork:
    """Every active service of active carriers with its grids (3 queries)."""

    def __init__(self, services=None):
        qs = (
            services
            if services is not None
            else CarrierService.objects.filter(active=True, carrier__active=True)
        )
        qs = qs.select_related("carrier").prefetch_related("rates", "transits")
        # Quotes are immutable: one per (service, mode, price, days); quoters per (mode, distance band).
        self._quotes_made: dict[tuple, ServiceQuote] = {}
        self._quoters: dict[tuple, Callable[[int], ServiceQuote | None]] = {}
        self._services = []
        for service in qs:
            entry = _Service(service)
            entry.rates = sorted(
                (r.max_weight_g, r.max_distance_km, r.price_excl_vat) for r in service.rates.all()
            )
            entry.transits = sorted((t.max_distance_km, t.transit_days) for t in service.transits.all())
            self._services.append(entry)
        # Every distance threshold of the grids: distances between the same two behave the same.
        self._thresholds = sorted(
            {km for e in self._services for _w, km, _p in e.rates}
            | {km for e in self._services for km, _d in e.transits}
        )

    def quotes(self, *, mode: str, weight_g: int, distance_km: float) -> list[ServiceQuote]:
        """Every service of this delivery mode that takes the parcel, cheapest first (then fastest)."""
        result = []
        for entry in self._services:
            service = entry.service
            if service.delivery_mode != mode or weight_g > service.max_weight_g:
                continue
            price = next((p for w, km, p in entry.rates if weight_g <= w and distance_km <= km), None)
            days = next((d for km, d in entry.transits if distance_km <= km), None)
            if price is None or days is None:
                continue  # outside the service's grids
            result.append(
                ServiceQuote(
                    service_id=service.pk,
                    carrier=service.carrier.code,
                    code=service.code,
                    name=str(service),
                    mode=mode,
                    price_excl_vat=price,
                    transit_days=days,
                    cutoff_time=service.cutoff_time,
                    weekdays=frozenset(service.weekdays),
                    is_express=service.is_express,
                )
            )
        result.sort(key=lambda q: (q.price_excl_vat, q.transit_days, q.service_id))
        return result

    def cheapest(self, *, mode: str, weight_g: int, distance_km: float) -> ServiceQuote | None:
        quotes = self.quotes(mode=mode, weight_g=weight_g, distance_km=distance_km)
        return quotes[0] if quotes else None

    def quoter(self, *, mode: str, distance_km: float) -> Callable[[int], ServiceQuote | None]:
        """``cheapest`` for one origin and destination, as a function of the weight (a sourcing decision
        asks it for many weights from each location): the grids cut to the distance once, then a bisection
        per weight. Gives the quote ``cheapest`` gives (same price, transit, and tie-breaks). Distances
        between the same two grid thresholds share one quoter and its answers for the network's life."""
        band = (mode, bisect_left(self._thresholds, distance_km))
        quoter = self._quoters.get(band)
        if quoter is None:
            quoter = self._quoters[band] = self._make_quoter(mode=mode, distance_km=distance_km)
        return quoter

    def _make_quoter(self, *, mode: str, distance_km: float) -> Callable[[int], ServiceQuote | None]:
        options = []
        for entry in self._services:
            service = entry.service
            if service.delivery_mode != mode:
                continue
            days = next((d for km, d in entry.transits if distance_km <= km), None)
            rates = [(w, p) for w, km, p in entry.rates if distance_km <= km]  # still by weight, then price
            if days is None or not rates:
                continue
            options.append((service, days, [w for w, _p in rates], [p for _w, p in rates]))
        answers: dict[int, ServiceQuote | None] = {}
        made = self._quotes_made

        def cheapest(weight_g: int) -> ServiceQuote | None:
            try:
                return answers[weight_g]
            except KeyError:
                pass
            best = None
            for service, days, weights, prices in options:
                if weight_g > service.max_weight_g:
                    continue
                i = bisect_left(weights, weight_g)
                if i == len(weights):
                    continue
                key = (prices[i], days, service.pk)
                if best is None or key < best[0]:
                    best = (key, service)
            quote = None
            if best is not None:
                (price, days, _pk), service = best
                quote = made.get((service.pk, mode, price, days))
                if quote is None:
                    quote = made[(service.pk, mode, price, days)] = self._quote(service, mode, price, days)
            if len(answers) >= QUOTER_ANSWERS_KEPT:
                answers.clear()
            answers[weight_g] = quote
            return quote

        return cheapest

    @staticmethod
    def _quote(service, mode: str, price: Decimal, days: int) -> ServiceQuote:
        return ServiceQuote(
            service_id=service.pk,
            carrier=service.carrier.code,
            code=service.code,
            name=str(service),
            mode=mode,
            price_excl_vat=price,
            transit_days=days,
            cutoff_time=service.cutoff_time,
            weekdays=frozenset(service.weekdays),
            is_express=service.is_express,
        )


def network_version() -> int:
    """The carrier network's version: from the shared cache, else (missing, flushed, or the cache is down)
    from its row, copied back to the cache for ``NETWORK_VERSION_TTL`` seconds."""
    version = cache_get(NETWORK_VERSION_KEY)
    if version is None:
        version = NetworkVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0
        cache_set(NETWORK_VERSION_KEY, version, NETWORK_VERSION_TTL)
    return version


def network_current() -> ShippingNetwork:
    """The carrier network, cached in the process and re-read when master data changes (its version, see
    ``network_version``, raised by ``network_changed``) or after ``NETWORK_MAX_AGE`` seconds."""
    import time as _time

    version = network_version()
    now = _time.monotonic()
    if (
        _cached["network"] is None
        or _cached["version"] != version
        or now - _cached["loaded"] > NETWORK_MAX_AGE
    ):
        _cached.update(network=ShippingNetwork(), version=version, loaded=now)
    return _cached["network"]


def network_forget() -> None:
    """This process re-reads the network at its next use."""
    _cached["network"] = None


def network_changed() -> None:
    """Called (after commit) when carriers, services or grids changed: every process re-reads the network.
    The version row is raised and the cached copy dropped, so the next reader anywhere takes the new version
    from the database."""
    _cached["network"] = None
    if not NetworkVersion.objects.filter(pk=1).update(version=F("version") + 1):
        NetworkVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    cache_delete(NETWORK_VERSION_KEY)


# Settings pages: the carriers with their services, and a service's grids laid out as tables.


def carrier_list() -> QuerySet[Carrier]:
    """Every carrier (active or not) with its services and the size of their grids (2 queries)."""
    services = CarrierService.objects.annotate(
        rate_count=Count("rates", distinct=True), transit_count=Count("transits", distinct=True)
    ).order_by("name", "pk")
    return Carrier.objects.prefetch_related(Prefetch("services", queryset=services)).order_by("name", "pk")


@dataclass(frozen=True)
class RateRow:
    max_weight_g: int
    prices: list[Decimal | None]  # one per distance band, None where the grid has a hole


@dataclass(frozen=True)
class ServiceGrids:
    distances: list[int]  # distance bands of the price grid (km), ascending
    rates: list[RateRow]  # weight bands, ascending
    transits: list[tuple[int, int]]  # (max_distance_km, transit_days), ascending

    @property
    def weights(self) -> list[int]:
        return [row.max_weight_g for row in self.rates]

    @property
    def has_holes(self) -> bool:
        return any(price is None for row in self.rates for price in row.prices)

    @property
    def priced_up_to_km(self) -> int | None:
        return self.distances[-1] if self.distances else None

    @property
    def transit_up_to_km(self) -> int | None:
        return self.transits[-1][0] if self.transits else None

    def price_row(self, max_weight_g: int) -> RateRow | None:
        return next((row for row in self.rates if row.max_weight_g == max_weight_g), None)


def service_grids(*, service: CarrierService) -> ServiceGrids:
    """The price grid as rows (weight bands) × columns (distance bands), and the transit grid (2 queries)."""
    cells = {
        (w, km): price
        for w, km, price in ServiceRate.objects.filter(service=service).values_list(
            "max_weight_g", "max_distance_km", "price_excl_vat"
        )
    }
    distances = sorted({km for _w, km in cells})
    weights = sorted({w for w, _km in cells})
    rates = [RateRow(w, [cells.get((w, km)) for km in distances]) for w in weights]
    transits = list(
        ServiceTransit.objects.filter(service=service)
        .order_by("max_distance_km")
        .values_list("max_distance_km", "transit_days")
    )
    return ServiceGrids(distances=distances, rates=rates, transits=transits)


# Relay points: the local directory (never the carrier) searched by distance.

# Degrees of latitude around the origin, widened when too few points are found; beyond the last box (about
# 220 km) a relay point is no use to the customer, so none is offered.
RELAY_SEARCH_BOXES = (0.6, 2.0)


def relay_point_search(
    *,
    postcode: str,
    country: str = "FR",
    carrier: str = "",
    limit: int = 10,
    latitude=None,
    longitude=None,
) -> list[RelayPoint]:
    """The active relay points nearest to a postcode (or coordinates), nearest first, each with
    ``distance_km``. ``carrier`` filters on the carrier's code or adapter ("mondial-relay" or
    "mondial_relay"). The origin is the postcode's département (shipping/geo.py) unless coordinates are
    given; the search widens until ``limit`` points are found, up to about 220 km (1 or 2 queries)."""
    country = (country or "FR").upper()
    origin = geo.place(postcode=postcode, country=country, latitude=latitude, longitude=longitude)
    if origin is None:
        return []
    rows = RelayPoint.objects.filter(
        active=True, country=country, carrier__active=True, latitude__isnull=False, longitude__isnull=False
    ).select_related("carrier")
    if carrier:
        rows = rows.filter(Q(carrier__code=carrier) | Q(carrier__adapter=carrier))
    found: list[RelayPoint] = []
    for box in RELAY_SEARCH_BOXES:
        lon_box = box * 1.5  # a degree of longitude is shorter than one of latitude in France
        found = list(
            rows.filter(
                latitude__range=(origin.latitude - box, origin.latitude + box),
                longitude__range=(origin.longitude - lon_box, origin.longitude + lon_box),
            )
        )
        if len(found) >= limit:
            break
    for point in found:
        point.distance_km = geo.haversine_km(
            origin.latitude, origin.longitude, float(point.latitude), float(point.longitude)
        )
    found.sort(key=lambda p: (p.distance_km, p.pk))
    return found[:limit]


def rule_list() -> QuerySet[ShippingRule]:
    return ShippingRule.objects.select_related("channel", "service__carrier").order_by("position", "pk")


def carrier_for_relay(value: str) -> Carrier | None:
    """The carrier an order's ``relay_point.carrier`` names: a carrier code ("mondial-relay", what the relay
    API and picker give) or, for orders from channels that name the adapter, an adapter ("mondial_relay")."""
    if not value:
        return None
    return (
        Carrier.objects.filter(code=value).first()
        or Carrier.objects.filter(adapter=value).order_by("pk").first()
    )


def shipment_alerts(*, location_ids, limit: int = 20):
    """Parcels staff must look at (label failed, delivery failed, returned, no news), newest first."""
    from .models import Shipment

    return (
        Shipment.objects.filter(location_id__in=list(location_ids))
        .exclude(alert="")
        .exclude(status=Shipment.Status.CANCELLED)
        .select_related("order", "service__carrier", "location")
        .order_by("-last_event_at", "-created_at")[:limit]
    )


def shipments_for_order(*, order_id: int) -> list[Shipment]:
    """An order's parcels, oldest first, with their carrier service, origin, contents (with the products'
    names) and tracking events newest first: four queries whatever the number of parcels."""
    return list(
        Shipment.objects.filter(order_id=order_id)
        .select_related("service__carrier", "location")
        .prefetch_related(
            Prefetch("lines", queryset=ShipmentLine.objects.select_related("product").order_by("pk")),
            Prefetch("events", queryset=TrackingEvent.objects.order_by("-at", "-pk")),
        )
        .order_by("created_at", "pk")
    )


# --- Rate shopping -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateOption:
    service: CarrierService
    price_excl_vat: Decimal | None
    transit_days: int | None
    promised_on: date | None
    chosen: bool = False
    cheapest: bool = False
    fastest: bool = False


@dataclass
class ParcelRates:
    """The services that could take a parcel (its delivery mode, weight and distance, by the grids), with
    price and promised date; the one chosen and why; whether it may still be changed by hand."""

    shipment: object
    options: list[RateOption]
    reason: str
    can_override: bool
    refusal: str = ""


def _ship_day(*, service: CarrierService, now) -> date:
    """The day a parcel packed now leaves: today before the service's cut-off on a pick-up day, else the
    next working day."""
    from . import calendar

    local = timezone.localtime(now)
    day = local.date()
    if local.time() > service.cutoff_time:
        day += timedelta(days=1)
    return calendar.next_working_day(day)


def shipment_rate_options(*, shipment, now=None, services: dict | None = None) -> ParcelRates:
    """Rate shopping for one parcel (fixed queries: the network is cached; ``services`` by id, when the
    caller loaded them for several parcels at once)."""
    from . import calendar

    now = now or timezone.now()
    recipient = shipment.recipient or {}
    mode = (
        shipment.service.delivery_mode if shipment.service_id else ("relay" if shipment.relay_id else "home")
    )
    point = geo.place(postcode=recipient.get("postcode", ""), country=recipient.get("country") or "FR")
    location = shipment.location
    distance = (
        geo.distance_km(origin=(float(location.latitude), float(location.longitude)), destination=point)
        if point is not None
        else 9999.0
    )
    network = network_current()
    quotes = network.quotes(mode=mode, weight_g=shipment.weight_g, distance_km=distance)
    if services is None:
        services = _active_services()
    options = []
    for quote in quotes:
        service = services.get(quote.service_id)
        if service is None:
            continue
        start = _ship_day(service=service, now=now)
        promised = calendar.add_working_days(start, quote.transit_days, set(quote.weekdays))
        options.append(
            RateOption(
                service=service,
                price_excl_vat=quote.price_excl_vat,
                transit_days=quote.transit_days,
                promised_on=promised,
                chosen=service.pk == shipment.service_id,
            )
        )
    if shipment.service_id and not any(o.chosen for o in options):
        options.append(
            RateOption(
                service=shipment.service,
                price_excl_vat=None,
                transit_days=None,
                promised_on=None,
                chosen=True,
            )
        )
    priced = [o for o in options if o.price_excl_vat is not None]
    cheapest = min((o.price_excl_vat for o in priced), default=None)
    fastest = min((o.promised_on for o in priced), default=None)
    options = [
        RateOption(
            **{
                **o.__dict__,
                "cheapest": o.price_excl_vat is not None and o.price_excl_vat == cheapest,
                "fastest": o.promised_on is not None and o.promised_on == fastest,
            }
        )
        for o in options
    ]
    from .shipments import override_refusal

    refusal = override_refusal(shipment)
    return ParcelRates(
        shipment=shipment,
        options=options,
        reason=service_reason_text(shipment),
        can_override=not refusal,
        refusal=refusal,
    )


def service_reason_text(shipment) -> str:
    from django.utils.translation import gettext as _

    if shipment.service_reason == "rule":
        name = shipment.service_rule.name if shipment.service_rule_id else _("(deleted rule)")
        return _("Shipping rule “%(rule)s”.") % {"rule": name}
    if shipment.service_reason == "sourcing":
        return _("Sourcing's choice: the cheapest service that takes the parcel, no shipping rule matched.")
    if shipment.service_reason == "manual":
        who = shipment.service_chosen_by.get_username() if shipment.service_chosen_by_id else "—"
        note = f" {shipment.service_note}" if shipment.service_note else ""
        return _("Chosen by hand by %(user)s.") % {"user": who} + note
    return _("No carrier service yet.") if not shipment.service_id else ""


def _active_services() -> dict:
    return {
        s.pk: s
        for s in CarrierService.objects.filter(active=True, carrier__active=True).select_related("carrier")
    }


def order_parcel_rates(*, order_number: str) -> list[ParcelRates]:
    """Every parcel of an order with its rate shopping: two queries whatever the number of parcels (and the
    network's, when its cache is cold)."""
    from .models import Shipment

    shipments = (
        Shipment.objects.filter(order__number=order_number)
        .exclude(status="cancelled")
        .select_related("service__carrier", "location", "service_rule", "service_chosen_by")
        .order_by("pk")
    )
    services = _active_services()
    return [shipment_rate_options(shipment=s, services=services) for s in shipments]
