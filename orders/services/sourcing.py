"""Where each line ships from, and why.

``decide`` builds candidate plans and picks one by the channel's strategy:

- ``cost`` (default): every candidate plan (each location that can serve every line alone, else splits
  built around each location) is scored: handling (per line) + shipping (the cheapest eligible service for
  each parcel's weight and distance) + a split penalty per extra parcel + a lateness cost per day until the
  promised delivery − the storage cost saved by emptying the source (units × storage cost per unit and day ×
  ``SOURCING_STORAGE_DAYS``). Cheapest wins; on ties fewer parcels, then the earlier delivery.
- ``nearest``: fewest parcels, then the shortest total distance.
- ``priority``: the channel's location order (one location that serves everything, else line by line).

Store pickup takes the chosen store's own stock first; else a warehouse sends the goods to the store (a
transfer, priced and timed by the ``store`` services' grids). What stock cannot cover comes from incoming
replenishments when pre-orders are allowed. Reads only, without locks; ``intake`` reserves with
compare-and-set updates and plans again if stock moved meanwhile.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from fulfillment.services import capacity_plan, shifts_ahead, shifts_first
from inventory.exceptions import OutOfStock
from inventory.models import IncomingStock, Location, StockLevel
from inventory.services import Reservation
from shipping.calendar import add_working_days, next_working_day
from shipping.geo import Point, distance_km, place
from shipping.selectors import ServiceQuote, ShippingNetwork, network_current

from ..models import Channel

CENT = Decimal("0.01")
PICKUP_WEEKDAYS = frozenset({1, 2, 3, 4, 5})  # carriers collect parcels on working days
UNKNOWN_DISTANCE_KM = 1000.0
NO_SERVICE_PENALTY = Decimal("1000")


@dataclass(frozen=True)
class PlannedAllocation:
    line_index: int
    product_id: int
    location_id: int
    quantity: int
    kind: str  # "stock" | "incoming"
    incoming_id: int | None = None
    expected_on: object = None

    def reservation(self, *, order_id: int, line_id: int) -> Reservation:
        """What inventory is asked to hold for this part of the plan, on the order line written for it."""
        return Reservation(
            order_id=order_id,
            line_id=line_id,
            product_id=self.product_id,
            location_id=self.location_id,
            quantity=self.quantity,
            incoming_id=self.incoming_id,
        )


@dataclass(frozen=True)
class LineRequest:
    """An order line to source. A kit's ``parts`` are its components ``(product id, units per kit)``: a kit
    unit ships whole from one location, so a location serves as many kits as its scarcest component
    allows, and the plan's allocations are the components' (``inventory.selectors.component_demands``)."""

    index: int
    product_id: int
    sku: str
    quantity: int
    weight_g: int
    parts: tuple[tuple[int, int], ...] = ()

    # Computed once per line (read for every parcel of every candidate plan); the fields are frozen.
    @cached_property
    def demands(self) -> tuple[tuple[int, int], ...]:
        """What one unit of the line takes from a shelf: (product id, units)."""
        return self.parts or ((self.product_id, 1),)

    @cached_property
    def units_per(self) -> int:
        return sum(q for _, q in self.demands)

    def servable(self, free: dict[tuple[int, int], int], location_id: int) -> int:
        """Units of the line the free stock at a location can serve."""
        return min(free.get((p, location_id), 0) // q for p, q in self.demands)


def line_request(*, index: int, product, quantity: int, parts=None) -> LineRequest:
    """The line to source for ``quantity`` units of ``product``; ``parts``: the kit's components
    (``inventory.selectors.kit_parts``), whose weights make the kit's when it has none of its own."""
    parts = tuple(parts or ())
    weight = product.weight_g or sum(part.weight_g * part.quantity for part in parts)
    return LineRequest(
        index,
        product.pk,
        product.sku,
        quantity,
        weight,
        tuple((part.product_id, part.quantity) for part in parts),
    )


@dataclass
class Parcel:
    location: Location
    stock: list[tuple[int, int]] = field(default_factory=list)  # (line index, quantity)
    incoming: list[tuple[int, int, int, date]] = field(default_factory=list)  # (line, incoming id, qty, date)
    weight_g: int = 0
    units: int = 0
    distance_km: float = 0.0
    quote: ServiceQuote | None = None
    ship_date: date | None = None
    delivery_date: date | None = None
    storage: Decimal = Decimal("0")
    handling: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    slots: list = field(default_factory=list)  # fulfillment ShiftSlot the parcel's lines are picked in
    ready: datetime | None = None  # when the parcel's goods can be picked (order time, or stock arrival)

    @property
    def cost(self) -> Decimal:
        return self.handling + self.shipping - self.storage

    @property
    def line_count(self) -> int:
        return len({i for i, _ in self.stock} | {i for i, *_ in self.incoming})


@dataclass
class Plan:
    parcels: list[Parcel]
    split_penalty: Decimal = Decimal("0")
    lateness: Decimal = Decimal("0")
    penalty: Decimal = Decimal("0")

    @property
    def total(self) -> Decimal:
        return (
            sum((p.cost for p in self.parcels), Decimal("0"))
            + self.split_penalty
            + self.lateness
            + self.penalty
        ).quantize(CENT)

    @property
    def delivery_date(self) -> date | None:
        dates = [p.delivery_date for p in self.parcels]
        return None if not dates or None in dates else max(dates)

    @property
    def distance_km(self) -> float:
        return sum(p.distance_km for p in self.parcels)

    @property
    def key(self) -> tuple:
        return tuple(
            sorted((p.location.pk, tuple(sorted(p.stock)), tuple(sorted(p.incoming))) for p in self.parcels)
        )

    def allocations(self, lines: list[LineRequest]) -> list[PlannedAllocation]:
        """What to reserve: per line and location, its product, or each component of a kit."""
        result = []
        for parcel in self.parcels:
            for index, quantity in parcel.stock:
                for product_id, per_unit in lines[index].demands:
                    result.append(
                        PlannedAllocation(index, product_id, parcel.location.pk, quantity * per_unit, "stock")
                    )
            for index, incoming_id, quantity, expected_on in parcel.incoming:
                result.append(
                    PlannedAllocation(
                        index,
                        lines[index].product_id,
                        parcel.location.pk,
                        quantity,
                        "incoming",
                        incoming_id,
                        expected_on,
                    )
                )
        return result

    def describe(self) -> str:
        """ "Lyon: 6.40 € (storage −0.20, handling 1.10, Colissimo Domicile 5.10)" per parcel."""
        parts = []
        for p in self.parcels:
            service = p.quote.name if p.quote else _("no carrier service")
            parts.append(
                _(
                    "%(location)s: %(cost)s € (storage −%(storage)s, handling %(handling)s, "
                    "%(service)s %(shipping)s)"
                )
                % {
                    "location": p.location.name,
                    "cost": _fmt(p.cost),
                    "storage": _fmt(p.storage),
                    "handling": _fmt(p.handling),
                    "service": service,
                    "shipping": _fmt(p.shipping),
                }
            )
        return "; ".join(parts)

    def summary(self) -> dict:
        return {
            "total": str(self.total),
            "parcels": [
                {
                    "location": p.location.code,
                    "location_name": p.location.name,
                    "cost": str(p.cost.quantize(CENT)),
                    "storage": str(p.storage),
                    "handling": str(p.handling),
                    "shipping": str(p.shipping),
                    "service": p.quote.name if p.quote else None,
                    "distance_km": round(p.distance_km),
                    "weight_g": p.weight_g,
                    "ship_date": p.ship_date.isoformat() if p.ship_date else None,
                    "delivery_date": p.delivery_date.isoformat() if p.delivery_date else None,
                }
                for p in self.parcels
            ],
            "split_penalty": str(self.split_penalty),
            "lateness": str(self.lateness),
            "delivery_date": self.delivery_date.isoformat() if self.delivery_date else None,
        }


@dataclass
class Decision:
    strategy: str
    plan: Plan
    candidates: list[Plan]
    destination: Point | None
    lines: list[LineRequest]
    network: ShippingNetwork | None = None
    compared: int = 0  # distinct candidate plans compared; ``candidates`` keeps the best CANDIDATES_KEPT

    @property
    def allocations(self) -> list[PlannedAllocation]:
        return self.plan.allocations(self.lines)

    @property
    def promise(self) -> tuple[date, date] | None:
        earliest = self.plan.delivery_date
        if earliest is None:
            return None
        weekdays = set().union(*(p.quote.weekdays for p in self.plan.parcels if p.quote)) or {
            1,
            2,
            3,
            4,
            5,
            6,
        }
        return earliest, add_working_days(earliest, settings.PROMISE_MARGIN_DAYS, weekdays)

    def explanation(self) -> str:
        chosen = self.plan
        others = [c for c in self.candidates if c.key != chosen.key][:3]
        text = _("Shipped from %(plan)s; %(count)s parcel(s), total %(total)s €.") % {
            "plan": chosen.describe(),
            "count": len(chosen.parcels),
            "total": _fmt(chosen.total),
        }
        if others:
            text += " " + _("Compared with: %(others)s.") % {
                "others": "; ".join(
                    f"{' + '.join(p.location.name for p in c.parcels)} {_fmt(c.total)} €" for c in others
                )
            }
        return text

    def record(self) -> dict:
        """What ``order.sourced`` records, made of JSON's own types (written as it is: ``intake._events``).
        The chosen plan is the first candidate: its summary is made once."""
        candidates = [c.summary() for c in self.candidates[:CANDIDATES_KEPT]]
        first = self.candidates[0] is self.plan if candidates else False
        return {
            "strategy": self.strategy,
            "destination": None
            if self.destination is None
            else {
                "latitude": self.destination.latitude,
                "longitude": self.destination.longitude,
                "precision": self.destination.precision,
            },
            "chosen": candidates[0] if first else self.plan.summary(),
            "candidates": candidates,
        }


def _fmt(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def channel_location_ids(*, channel: Channel) -> list[int]:
    return list(
        channel.channel_locations.filter(location__active=True)
        .order_by("priority", "location__code")
        .values_list("location_id", flat=True)
    )


# Candidates kept on a decision, best first: its record stores them and its explanation names the next three.
CANDIDATES_KEPT = 10
_ZERO = Decimal("0")
_LOCATION_ATTNAMES = [f.attname for f in Location._meta.concrete_fields]
_LOCATION_COLUMNS = ", ".join(f'l."{f.column}"' for f in Location._meta.concrete_fields)

# The channel's active locations that hold free units of the order's products (and the pickup store, and
# the locations a what-if gives units back to), in the channel's order with the pickup store first, each
# with those free units: one statement.
_SITES_SQL = f"""
WITH free AS (
    SELECT sl.location_id, array_agg(sl.product_id) AS products, array_agg(sl.on_hand - sl.reserved) AS units
    FROM inventory_stocklevel sl
    WHERE sl.product_id = ANY(%(products)s) AND sl.on_hand > sl.reserved
    GROUP BY sl.location_id
)
SELECT * FROM (
    SELECT {_LOCATION_COLUMNS}, free.products, free.units,
        row_number() OVER (ORDER BY l.id = %(pickup)s DESC, cl.priority, l.code) - 1 AS position,
        count(*) OVER () AS locations
    FROM inventory_location l
    LEFT JOIN orders_channellocation cl ON cl.location_id = l.id AND cl.channel_id = %(channel)s
    LEFT JOIN free ON free.location_id = l.id
    WHERE ((cl.id IS NOT NULL AND l.active) OR l.id = %(pickup)s) AND NOT l.id = ANY(%(excluded)s)
) channel_locations
WHERE products IS NOT NULL OR id = %(pickup)s OR id = ANY(%(also)s)
ORDER BY position
"""  # noqa: S608 - the only interpolation is the model's column names


class _Site:
    """A location as sourcing reads it: its id, position, costs, and its row (the ``Location`` instance is
    built only for the locations of the plans a decision keeps)."""

    __slots__ = (
        "pk",
        "position",
        "latitude",
        "longitude",
        "storage_cost",
        "handling_cost",
        "_row",
        "_location",
    )

    def __init__(self, *, row: tuple | None = None, location: Location | None = None, position: int = -1):
        if location is not None:
            row = tuple(getattr(location, name) for name in _LOCATION_ATTNAMES)
        values = dict(zip(_LOCATION_ATTNAMES, row, strict=True))
        self.pk = values["id"]
        self.position = position  # among every location of the channel (those without the products too)
        self.latitude = values["latitude"]
        self.longitude = values["longitude"]
        self.storage_cost = values["storage_cost_per_unit_day"]
        self.handling_cost = values["handling_cost_per_line"]
        self._row = row
        self._location = location

    @property
    def location(self) -> Location:
        if self._location is None:
            self._location = Location.from_db(DEFAULT_DB_ALIAS, _LOCATION_ATTNAMES, self._row)
        return self._location


def _sites_read(
    *, channel, pickup, product_ids, excluded=(), also=()
) -> tuple[list[_Site], dict[tuple[int, int], int], int]:
    """The locations a decision can ship from (those holding free units of ``product_ids``, the pickup
    store, and ``also``), in the channel's order with the pickup store first, the free units there
    (``{(product id, location id): units}``), and how many locations the channel has in all (active, the
    pickup store included, ``excluded`` not). The one loader of sourcing (decisions and batches)."""
    product_ids = list(product_ids)
    excluded = set(excluded)
    free: dict[tuple[int, int], int] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _SITES_SQL,
                {
                    "products": product_ids,
                    "channel": channel.pk,
                    "pickup": pickup.pk if pickup else None,
                    "excluded": list(excluded),
                    "also": list(also),
                },
            )
            rows = cursor.fetchall()
        width = len(_LOCATION_ATTNAMES)
        sites = []
        total = 0
        for row in rows:
            site = _Site(row=row[:width], position=row[width + 2])
            total = row[width + 3]
            sites.append(site)
            for product_id, units in zip(row[width] or (), row[width + 1] or (), strict=True):
                free[(product_id, site.pk)] = units
        return sites, free, total
    ids = channel_location_ids(channel=channel)
    if pickup is not None:
        ids = [pickup.pk] + [i for i in ids if i != pickup.pk]
    by_id = {loc.pk: loc for loc in Location.objects.filter(pk__in=ids)}
    ids = [i for i in ids if i not in excluded and i in by_id]
    free = {
        (p, loc): f
        for p, loc, f in StockLevel.objects.filter(product_id__in=product_ids, location_id__in=ids)
        .annotate(free=F("on_hand") - F("reserved"))
        .filter(free__gt=0)
        .values_list("product_id", "location_id", "free")
    }
    keep = {loc for _p, loc in free} | set(also) | ({pickup.pk} if pickup else set())
    sites = [_Site(location=by_id[i], position=n) for n, i in enumerate(ids) if i in keep]
    return sites, free, len(ids)


@dataclass
class Preload:
    """What every decision of a batch reads the same way, read once (``sourcing_preload``), and what every
    decision of the batch computes the same way, computed once (the free units by product, the strategy's
    settings, whether the network has services for a mode)."""

    sites: list[_Site]
    free: dict[tuple[int, int], int]
    shifts: dict
    network: ShippingNetwork
    locations: int  # the channel's locations in all
    _by_product: dict | None = None
    _services: dict = field(default_factory=dict)

    def free_of(self, product_ids, taken: dict | None) -> dict[tuple[int, int], int]:
        """The free units of ``product_ids`` (``{(product id, location id): units}``, only those > 0) once
        ``taken`` (the units the batch's earlier orders planned) is taken away."""
        by_product = self._by_product
        if by_product is None:
            by_product = self._by_product = {}
            for key, units in self.free.items():
                by_product.setdefault(key[0], []).append((key, units))
        free = {}
        for product_id in product_ids:
            for key, units in by_product.get(product_id, ()):
                if taken:
                    units -= taken.get(key, 0)
                if units > 0:
                    free[key] = units
        return free

    def has_services(self, mode: str) -> bool:
        found = self._services.get(mode)
        if found is None:
            found = self._services[mode] = bool(self.network.quotes(mode=mode, weight_g=0, distance_km=0))
        return found


def sourcing_preload(*, channel: Channel, product_ids, now: datetime | None = None) -> Preload:
    """The channel's locations holding these products, their free stock, the pickers' shifts there and the
    carrier network, for a batch of decisions taken with ``decide(preload=...)``."""
    sites, free, total = _sites_read(channel=channel, pickup=None, product_ids=set(product_ids))
    return Preload(
        sites=sites,
        free=free,
        locations=total,
        shifts=shifts_ahead(location_ids=[site.pk for site in sites], since=now or timezone.now()),
        network=network_current(),
    )


@dataclass(slots=True)
class _Measure:
    """A parcel's figures that do not depend on its dates."""

    units: int
    weight_g: int
    storage: Decimal
    handling: Decimal
    distance_km: float
    quote: ServiceQuote | None
    shipping: Decimal
    self_pickup: bool

    @property
    def cost(self) -> Decimal:
        return self.handling + self.shipping - self.storage


class _Draft:
    """A parcel being planned: where from, and what (no figures yet)."""

    __slots__ = ("site", "stock", "incoming")

    def __init__(self, site: _Site, stock=None, incoming=None):
        self.site = site
        self.stock: list[tuple[int, int]] = stock if stock is not None else []
        self.incoming: list[tuple[int, int, int, date]] = incoming if incoming is not None else []


class _Context:
    """Everything a decision reads, loaded once: the locations holding the order's products with their
    free units (one statement), the carrier network (cached), and the pickers' shifts of the locations
    whose plans are finished (read when first needed, a row or two per location)."""

    def __init__(
        self,
        *,
        channel,
        lines,
        destination,
        mode,
        pickup_location,
        now,
        network=None,
        extra_free=None,
        exclude_location_ids=(),
        preload=None,
        taken=None,
    ):
        self.channel = channel
        self.lines = lines
        self.destination = destination
        self.mode = mode
        self.pickup = pickup_location
        self.now = now
        self.excluded = set(exclude_location_ids)
        product_ids = sorted({product_id for line in lines for product_id, _q in line.demands})
        # Shifts cut to what an order of these lines can book from now (``shifts_first``), and the whole
        # horizon for parcels waiting for a replenishment.
        self._shifts: dict = {}
        self._shifts_full: dict = {}
        fast = preload is not None and pickup_location is None and not exclude_location_ids and not extra_free
        if not fast and taken:  # ``taken`` is ``extra_free`` with the signs turned
            extra_free = {**(extra_free or {})}
            for key, quantity in taken.items():
                extra_free[key] = extra_free.get(key, 0) - quantity
        if fast:  # a batch: read once for all its orders, its earlier orders' units taken away
            sites = preload.sites
            self.free = preload.free_of(product_ids, taken)
            network = network if network is not None else preload.network
            self._shifts = self._shifts_full = preload.shifts
            total = preload.locations
        elif preload is not None and pickup_location is None and not exclude_location_ids:
            wanted = set(product_ids)
            sites = preload.sites
            self.free = {k: v for k, v in preload.free.items() if k[0] in wanted}
            network = network if network is not None else preload.network
            self._shifts = self._shifts_full = preload.shifts
            total = preload.locations
        else:
            also = [loc for (_p, loc), quantity in (extra_free or {}).items() if quantity > 0]
            sites, self.free, total = _sites_read(
                channel=channel,
                pickup=pickup_location,
                product_ids=product_ids,
                excluded=self.excluded,
                also=also,
            )
        for key, quantity in (extra_free or {}).items():  # what-if replays: the order's own units
            self.free[key] = self.free.get(key, 0) + quantity
        if extra_free:  # a batch takes away what its earlier orders planned: nothing left is not free
            self.free = {key: quantity for key, quantity in self.free.items() if quantity > 0}
        held = {location_id for _p, location_id in self.free}
        pickup_pk = pickup_location.pk if pickup_location is not None else None
        # A location without any of the order's products can neither serve a plan nor change one.
        self.sites = [site for site in sites if site.pk in held or site.pk == pickup_pk]
        # The first location of the channel without any of them: as the primary of a split it serves
        # nothing, and its plan is the nearest locations' (``_splits`` adds it in its place).
        self.first_without = min(set(range(total)) - {site.position for site in self.sites}, default=None)
        self._site_by_pk = {site.pk: site for site in sites}
        self.network = network if network is not None else network_current()
        self.split_penalty = Decimal(str(settings.SOURCING_SPLIT_PENALTY))
        self.lateness_per_day = Decimal(str(settings.SOURCING_LATENESS_COST_PER_DAY))
        self.storage_days = Decimal(settings.SOURCING_STORAGE_DAYS)
        self.max_parcels = settings.SOURCING_MAX_PARCELS
        if preload is not None and self.network is preload.network:
            self.has_services = preload.has_services(self.mode)
        else:
            self.has_services = bool(self.network.quotes(mode=self.mode, weight_g=0, distance_km=0))
        self.local_now = timezone.localtime(self.now)
        self.today = self.local_now.date()
        self._distances: dict[int, float] = {}
        self._quoters: dict = {}
        self._measures: dict = {}
        self._earliest: dict = {}

    @property
    def locations(self) -> list[Location]:
        return [site.location for site in self.sites]

    def site(self, location) -> _Site:
        site = self._site_by_pk.get(location.pk)
        if site is None:
            site = self._site_by_pk[location.pk] = _Site(location=location)
        return site

    def needed(self) -> dict[int, int]:
        needed: dict[int, int] = {}
        for line in self.lines:
            for product_id, per_unit in line.demands:
                needed[product_id] = needed.get(product_id, 0) + line.quantity * per_unit
        return needed

    def distance(self, location) -> float:
        """From a location (or a site) to the customer (to the pickup store for store orders)."""
        pk = location.pk
        known = self._distances.get(pk)
        if known is not None:
            return known
        if self.mode == "store" and self.pickup is not None:
            target = Point(float(self.pickup.latitude), float(self.pickup.longitude), "address")
            value = distance_km(origin=(location.latitude, location.longitude), destination=target)
        elif self.destination is None:
            value = UNKNOWN_DISTANCE_KM
        else:
            value = distance_km(origin=(location.latitude, location.longitude), destination=self.destination)
        self._distances[pk] = value
        return value

    def measure(self, site: _Site, stock, incoming) -> _Measure:
        """A parcel's weight, costs and carrier service (kept: the same parcel recurs across plans)."""
        key = (site.pk, tuple(stock), tuple(incoming))
        found = self._measures.get(key)
        if found is not None:
            return found
        lines = self.lines
        units = weight = stock_units = 0  # integers: one pass gives what the sums gave
        indexes = set()
        for i, q in stock:
            line = lines[i]
            units += q
            weight += line.weight_g * q
            stock_units += q * line.units_per
            indexes.add(i)
        for i, _pk, q, _expected in incoming:
            units += q
            weight += lines[i].weight_g * q
            indexes.add(i)
        line_count = len(indexes)
        storage = (Decimal(stock_units) * site.storage_cost * self.storage_days).quantize(CENT)
        handling = (Decimal(line_count) * site.handling_cost).quantize(CENT)
        distance = self.distance(site)
        self_pickup = self.mode == "store" and self.pickup is not None and site.pk == self.pickup.pk
        if self_pickup:
            quote, shipping = None, Decimal("0")
        else:
            quoter = self._quoters.get(site.pk)
            if quoter is None:
                quoter = self._quoters[site.pk] = self.network.quoter(mode=self.mode, distance_km=distance)
            quote = quoter(weight)
            shipping = quote.price_excl_vat if quote else Decimal("0")
        found = self._measures[key] = _Measure(
            units, weight, storage, handling, distance, quote, shipping, self_pickup
        )
        return found

    def finish_parcel(self, parcel: Parcel) -> Parcel:
        m = self.measure(self.site(parcel.location), parcel.stock, parcel.incoming)
        parcel.units = m.units
        parcel.weight_g = m.weight_g
        parcel.storage = m.storage
        parcel.handling = m.handling
        parcel.distance_km = m.distance_km
        parcel.quote = m.quote
        parcel.shipping = m.shipping
        self._dates(parcel, self_pickup=m.self_pickup)
        return parcel

    def load_shifts(self, location_ids) -> None:
        """Read the shifts of these locations (those not read yet), in one statement."""
        missing = [pk for pk in location_ids if pk not in self._shifts]
        if missing:
            self._shifts.update(
                shifts_first(location_ids=missing, since=self.now, lines=max(1, len(self.lines)))
            )

    def _shifts_for(self, location_id: int, ready: datetime) -> list:
        if ready > self.now:  # waits for a replenishment: the whole horizon
            if location_id not in self._shifts_full:
                self._shifts_full.update(shifts_ahead(location_ids=[location_id], since=self.now))
            return self._shifts_full[location_id]
        self.load_shifts([location_id])
        return self._shifts[location_id]

    def _dates(self, parcel: Parcel, *, self_pickup: bool) -> None:
        now = self.local_now
        ready = now
        if parcel.incoming:  # waits for the replenishment, received the morning it is expected
            latest = max(expected for *_, expected in parcel.incoming)
            start_of_day = timezone.make_aware(datetime.combine(latest, datetime.min.time()), now.tzinfo)
            ready = max(ready, start_of_day)
        slots = capacity_plan(
            shifts=self._shifts_for(parcel.location.pk, ready),
            lines=max(1, parcel.line_count),
            not_before=ready,
        )
        parcel.slots = slots or []
        if self_pickup:
            day = slots[-1].date if slots else next_working_day(ready.date(), {1, 2, 3, 4, 5, 6})
            parcel.ship_date = parcel.delivery_date = day
            return
        parcel.ready = ready
        if parcel.quote is None:
            parcel.ship_date = parcel.delivery_date = None
            return
        parcel.ship_date, parcel.delivery_date = ship_and_delivery(
            quote=parcel.quote, ready=ready, slots=parcel.slots
        )

    def finish_plan(self, parcels: list[Parcel]) -> Plan:
        plan = Plan(parcels=[self.finish_parcel(p) for p in parcels])
        plan.split_penalty = self.split_penalty * max(0, len(parcels) - 1)
        if plan.delivery_date:
            days = (plan.delivery_date - self.today).days
            plan.lateness = (self.lateness_per_day * max(0, days)).quantize(CENT)
        if self.has_services and any(
            p.quote is None and p.shipping == 0 and p.delivery_date is None for p in parcels
        ):
            plan.penalty = NO_SERVICE_PENALTY  # a parcel no service can carry: only if nothing better
        return plan

    def _earliest_delivery(self, quote: ServiceQuote) -> date:
        """No parcel with this service is delivered before: shipped the first working day from today."""
        key = (quote.transit_days, quote.weekdays)
        day = self._earliest.get(key)
        if day is None:
            ship = next_working_day(self.today, set(PICKUP_WEEKDAYS))
            day = self._earliest[key] = add_working_days(ship, quote.transit_days, set(quote.weekdays))
        return day

    def bound(self, drafts: list[_Draft], strategy: str, rank_of: dict[int, int]) -> tuple:
        """A key no greater than the plan's ``_rank`` once finished, from everything but its dates: the
        costs, services, distances and penalties are exact; lateness counts from the earliest delivery
        its services allow (the pickers' shifts can only delay it)."""
        measures = [self.measure(d.site, d.stock, d.incoming) for d in drafts]
        no_service = any(m.quote is None and not m.self_pickup for m in measures)
        penalty = NO_SERVICE_PENALTY if self.has_services and no_service else _ZERO
        if strategy == "nearest":
            return (penalty, len(drafts), sum(m.distance_km for m in measures), date.min)
        if strategy == "priority":
            return (penalty, len(drafts), sorted(rank_of.get(d.site.pk, len(rank_of)) for d in drafts))
        lateness = _ZERO
        if not no_service:
            latest = max(
                self.today if m.quote is None else self._earliest_delivery(m.quote) for m in measures
            )
            lateness = (self.lateness_per_day * max(0, (latest - self.today).days)).quantize(CENT)
        total = (
            sum((m.cost for m in measures), Decimal("0"))
            + self.split_penalty * max(0, len(drafts) - 1)
            + lateness
            + penalty
        ).quantize(CENT)
        return (total, len(drafts), date.min)


def ship_and_delivery(*, quote: ServiceQuote, ready: datetime, slots: list) -> tuple[date, date]:
    """Ship date: the day of the last shift the parcel is picked in when that shift starts before the
    service's cut-off, else the next day (no schedule planned: the order time against the cut-off); then
    the next working day for the carrier's pick-up. Delivery: ship date + transit working days, skipping
    the days the service does not deliver and French public holidays."""
    cutoff = quote.cutoff_time
    if slots:
        last = slots[-1]
        ship = last.date if timezone.localtime(last.start).time() < cutoff else last.date + timedelta(days=1)
    else:
        ship = ready.date() if ready.time() < cutoff else ready.date() + timedelta(days=1)
    ship = next_working_day(ship, set(PICKUP_WEEKDAYS))
    return ship, add_working_days(ship, quote.transit_days, set(quote.weekdays))


def _single_location_plans(ctx: _Context) -> list[list[_Draft]]:
    needed = list(ctx.needed().items())
    free = ctx.free
    plans = []
    for site in ctx.sites:
        pk = site.pk
        if all(free.get((p, pk), 0) >= q for p, q in needed):
            plans.append([_Draft(site, [(line.index, line.quantity) for line in ctx.lines])])
    return plans


def _greedy(ctx: _Context, order: list[_Site]) -> tuple[list[_Draft], dict[int, int]]:
    """Fill each line from the locations in ``order``; returns the parcels and what is still missing."""
    free = dict(ctx.free)
    drafts: dict[int, _Draft] = {}
    short: dict[int, int] = {}
    for line in ctx.lines:
        remaining = line.quantity
        demands = line.demands
        for site in order:
            pk = site.pk
            take = min(remaining, min(free.get((p, pk), 0) // q for p, q in demands))
            if take > 0:
                draft = drafts.get(pk)
                if draft is None:
                    draft = drafts[pk] = _Draft(site)
                draft.stock.append((line.index, take))
                for product_id, per_unit in demands:
                    free[(product_id, pk)] -= take * per_unit
                remaining -= take
            if not remaining:
                break
        if remaining:
            short[line.index] = remaining
    return [drafts[site.pk] for site in order if site.pk in drafts], short


def _primaries(ctx: _Context) -> list[_Site | None]:
    """The primaries of the split plans, in the channel's order: each location holding some of the
    products, and ``None`` in the place of the first one holding none (all of those give the same plan)."""
    gap = ctx.first_without
    if gap is None:
        return list(ctx.sites)
    before = [site for site in ctx.sites if site.position < gap]
    return [*before, None, *ctx.sites[len(before) :]]


def _splits(ctx: _Context, by_distance: list[_Site]) -> list[list[_Draft]]:
    """The split plans built around each location: it serves what it can, the nearest others fill in
    (``_greedy`` from ``[primary] + by_distance``), those that serve every line in 2 to max parcels."""
    lines = ctx.lines
    primaries = _primaries(ctx)
    if any(line.parts for line in lines) or len({line.product_id for line in lines}) != len(lines):
        plans = []  # kits or a product on two lines: the lines share stock, fill them one after another
        for primary in primaries:
            order = by_distance
            if primary is not None:
                order = [primary] + [site for site in by_distance if site.pk != primary.pk]
            drafts, short = _greedy(ctx, order)
            if not short and 1 < len(drafts) <= ctx.max_parcels:
                plans.append(drafts)
        return plans
    # Each line takes its own product only: its candidate sources, nearest first, are computed once.
    free = ctx.free
    position = {site.pk: i for i, site in enumerate(by_distance)}
    per_line = []
    for line in lines:
        product_id = line.product_id
        near = [(site.pk, f) for site in by_distance if (f := free.get((product_id, site.pk), 0)) > 0]
        per_line.append((line.index, line.quantity, dict(near), near))
    plans = []
    max_parcels = ctx.max_parcels
    for primary in primaries:
        ppk = primary.pk if primary is not None else None
        takes: dict[int, list[tuple[int, int]]] = {}
        for index, quantity, at, near in per_line:
            remaining = quantity
            f = at.get(ppk)
            if f and remaining:
                take = min(remaining, f)
                takes.setdefault(ppk, []).append((index, take))
                remaining -= take
            if remaining:
                for pk, f in near:
                    if pk == ppk:
                        continue
                    take = min(remaining, f)
                    takes.setdefault(pk, []).append((index, take))
                    remaining -= take
                    if not remaining:
                        break
                if remaining:
                    break
            if len(takes) > max_parcels:
                break
        else:
            if 1 < len(takes) <= max_parcels:
                order = sorted(takes, key=lambda pk: -1 if pk == ppk else position[pk])
                plans.append([_Draft(ctx._site_by_pk[pk], takes[pk]) for pk in order])
    return plans


def _add_incoming(ctx: _Context, drafts: list[_Draft], short: dict[int, int]) -> dict[int, int]:
    # Kits are sold from stock: a kit's short units are not pre-ordered (its components may be, alone).
    if any(ctx.lines[i].parts for i in short):
        return short
    by_location = {d.site.pk: d for d in drafts}
    location_ids = channel_location_ids(channel=ctx.channel)
    if ctx.pickup is not None:
        location_ids.append(ctx.pickup.pk)
    location_ids = [pk for pk in location_ids if pk not in ctx.excluded]
    incoming = list(
        IncomingStock.objects.filter(
            product_id__in={ctx.lines[i].product_id for i in short},
            location_id__in=location_ids,
            status=IncomingStock.Status.OPEN,
            quantity__gt=F("reserved"),
        )
        .annotate(free=F("quantity") - F("reserved"))
        .order_by("expected_on", "pk")
        .values_list("pk", "product_id", "location_id", "free", "expected_on")
    )
    unknown = {loc for _, _, loc, _, _ in incoming if loc not in ctx._site_by_pk}
    for location in Location.objects.filter(pk__in=unknown) if unknown else ():
        ctx.site(location)
    left = {pk: f for pk, _, _, f, _ in incoming}
    short = dict(short)
    for index in list(short):
        product_id = ctx.lines[index].product_id
        for pk, p, loc_id, _free, expected_on in incoming:
            if p != product_id or not left[pk]:
                continue
            take = min(short[index], left[pk])
            draft = by_location.get(loc_id)
            if draft is None:
                draft = by_location[loc_id] = _Draft(ctx._site_by_pk[loc_id])
                drafts.append(draft)
            draft.incoming.append((index, pk, take, expected_on))
            left[pk] -= take
            short[index] -= take
            if not short[index]:
                del short[index]
                break
    return short


def _drafts(ctx: _Context, strategy: str, allow_preorder: bool) -> list[list[_Draft]]:
    """Every candidate plan, unpriced, in the order ties are settled."""
    raw: list[list[_Draft]] = []
    singles = _single_location_plans(ctx)
    by_distance = sorted(ctx.sites, key=ctx.distance)
    if strategy == "priority":
        raw = singles[:1] if singles else []
        if not raw:
            drafts, short = _greedy(ctx, ctx.sites)
            if not short:
                raw = [drafts]
    else:
        raw = list(singles)
        if not singles or strategy == "cost":
            raw += _splits(ctx, by_distance)
    if ctx.mode == "store" and ctx.pickup is not None:
        own = [r for r in raw if len(r) == 1 and r[0].site.pk == ctx.pickup.pk]
        if own:
            raw = own  # the store's own stock first
    raw = [r for r in raw if len(r) <= ctx.max_parcels]
    if not raw and allow_preorder:
        if strategy == "priority":
            pickup = [s for s in ctx.sites if ctx.pickup is not None and s.pk == ctx.pickup.pk]
            order = pickup + [s for s in ctx.sites if s not in pickup]
        else:
            order = by_distance
        drafts, short = _greedy(ctx, order)
        short = _add_incoming(ctx, drafts, short) if short else short
        if not short:
            raw = [drafts]
    return raw


def _draft_key(drafts: list[_Draft]) -> tuple:
    return tuple(sorted((d.site.pk, tuple(sorted(d.stock)), tuple(sorted(d.incoming))) for d in drafts))


def _candidates(ctx: _Context, strategy: str, allow_preorder: bool) -> tuple[list[Plan], int]:
    """The ``CANDIDATES_KEPT`` best plans, best first, and how many distinct plans were compared.

    When there are more candidates than are kept, every candidate gets a bound from its costs
    (``_Context.bound``); plans are finished (dated against the shifts and the carrier calendar) cheapest
    bound first, until the next bound is above the last kept plan's rank: the plans left unfinished cannot
    be among the kept ones, so the result is the one finishing and sorting every candidate gives (ties
    settled by the candidates' order). With no more than are kept, each is finished, in their order."""
    seen: set = set()
    unique: list[list[_Draft]] = []
    for drafts in _drafts(ctx, strategy, allow_preorder):
        key = _draft_key(drafts)
        if key not in seen:
            seen.add(key)
            unique.append(drafts)
    rank_of = {site.pk: site.position for site in ctx.sites}
    if len(unique) <= CANDIDATES_KEPT:
        # Every plan is finished and kept: bounds would only order the work (the shifts of every plan's
        # locations are still read in one statement, the first time one is missing).
        scored = [(None, seq, drafts) for seq, drafts in enumerate(unique)]
    else:
        scored = sorted(
            ((ctx.bound(drafts, strategy, rank_of), seq, drafts) for seq, drafts in enumerate(unique)),
            key=lambda item: (item[0], item[1]),
        )
    done: list[tuple[tuple, int, Plan]] = []
    for at, (bound, seq, drafts) in enumerate(scored):
        if len(done) >= CANDIDATES_KEPT:
            last = done[CANDIDATES_KEPT - 1]
            if (bound, seq) > (last[0], last[1]):
                break
        if any(d.site.pk not in ctx._shifts and not d.incoming for d in drafts):
            window = scored[at : at + 2 * CANDIDATES_KEPT]
            ctx.load_shifts({d.site.pk for _b, _s, ds in window for d in ds if not d.incoming})
        plan = ctx.finish_plan(
            [Parcel(location=d.site.location, stock=list(d.stock), incoming=list(d.incoming)) for d in drafts]
        )
        done.append((_rank(plan, strategy, rank_of), seq, plan))
        if len(done) >= CANDIDATES_KEPT:
            done.sort(key=lambda item: (item[0], item[1]))
    done.sort(key=lambda item: (item[0], item[1]))
    return [plan for _r, _s, plan in done[:CANDIDATES_KEPT]], len(unique)


def _rank(plan: Plan, strategy: str, rank_of: dict[int, int]) -> tuple:
    far = date.max
    if strategy == "nearest":
        return (plan.penalty, len(plan.parcels), plan.distance_km, plan.delivery_date or far)
    if strategy == "priority":
        return (
            plan.penalty,
            len(plan.parcels),
            sorted(rank_of.get(p.location.pk, len(rank_of)) for p in plan.parcels),
        )
    return (plan.total, len(plan.parcels), plan.delivery_date or far)


def decide(
    *,
    channel: Channel,
    lines: list[LineRequest],
    mode: str,
    destination: Point | None = None,
    pickup_location: Location | None = None,
    allow_preorder: bool = False,
    now: datetime | None = None,
    strategy: str | None = None,
    network: ShippingNetwork | None = None,
    extra_free: dict | None = None,
    exclude_location_ids=(),
    preload: Preload | None = None,
    taken: dict | None = None,
) -> Decision:
    """Choose where every line ships from. Raises OutOfStock when no plan can serve the order.

    ``taken``: units not free for this decision (``{(product id, location id): units}``, those a batch's
    earlier orders planned), as ``extra_free`` with the signs turned, without building that dict."""
    strategy = strategy or channel.sourcing_strategy or "cost"
    ctx = _Context(
        channel=channel,
        lines=lines,
        destination=destination,
        mode=mode,
        pickup_location=pickup_location,
        now=now or timezone.now(),
        network=network,
        extra_free=extra_free,
        exclude_location_ids=exclude_location_ids,
        preload=preload,
        taken=taken,
    )
    plans, compared = _candidates(ctx, strategy, allow_preorder)
    if not plans:
        raise OutOfStock("Not enough stock.", details={})
    return Decision(
        strategy=strategy,
        plan=plans[0],
        candidates=plans,
        destination=destination,
        lines=lines,
        network=ctx.network,
        compared=compared,
    )


def destination_of(*, postcode: str = "", country: str = "FR", latitude=None, longitude=None) -> Point | None:
    return place(postcode=postcode, country=country, latitude=latitude, longitude=longitude)


def score_allocations(
    *,
    channel: Channel,
    lines: list[LineRequest],
    allocations: list[tuple[int, int, int]],
    mode: str,
    destination: Point | None,
    pickup_location: Location | None,
    now: datetime,
    network: ShippingNetwork | None = None,
) -> Plan:
    """Score a plan that was actually made (``allocations``: (line index, location id, quantity)) with the
    same cost model, to compare it with what a strategy would have done."""
    ctx = _Context(
        channel=channel,
        lines=lines,
        destination=destination,
        mode=mode,
        pickup_location=pickup_location,
        now=now,
        network=network,
    )
    locations = {loc.pk: loc for loc in Location.objects.filter(pk__in={a[1] for a in allocations})}
    parcels: dict[int, Parcel] = {}
    for index, location_id, quantity in allocations:
        parcels.setdefault(location_id, Parcel(location=locations[location_id])).stock.append(
            (index, quantity)
        )
    return ctx.finish_plan(list(parcels.values()))
