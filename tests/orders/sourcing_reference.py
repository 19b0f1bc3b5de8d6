"""The sourcing decision as it was before candidates were bounded (2026-12-04), kept as the reference
the bounded one must agree with (tests/orders/test_sourcing_reference.py). Not used by the application.

Where each line ships from, and why.

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

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from fulfillment.services import capacity_plan, shifts_ahead
from inventory.exceptions import OutOfStock
from inventory.models import IncomingStock, Location, StockLevel
from orders.models import Channel
from shipping.calendar import add_working_days, next_working_day
from shipping.geo import Point, distance_km, place
from shipping.selectors import ServiceQuote, ShippingNetwork, network_current

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

    @property
    def demands(self) -> tuple[tuple[int, int], ...]:
        """What one unit of the line takes from a shelf: (product id, units)."""
        return self.parts or ((self.product_id, 1),)

    @property
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
        return {
            "strategy": self.strategy,
            "destination": None
            if self.destination is None
            else {
                "latitude": self.destination.latitude,
                "longitude": self.destination.longitude,
                "precision": self.destination.precision,
            },
            "chosen": self.plan.summary(),
            "candidates": [c.summary() for c in self.candidates[:10]],
        }


def _fmt(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def channel_location_ids(*, channel: Channel) -> list[int]:
    return list(
        channel.channel_locations.filter(location__active=True)
        .order_by("priority", "location__code")
        .values_list("location_id", flat=True)
    )


# The channel's active locations in its order (a pickup store first) with the free units of the order's
# products at each: one statement where it used to be three (channel locations, locations, stock levels).
_LOCATIONS_AND_FREE_SQL = """
SELECT l.*, (
    SELECT coalesce(json_agg(json_build_array(sl.product_id, sl.on_hand - sl.reserved)), '[]'::json)
    FROM inventory_stocklevel sl
    WHERE sl.location_id = l.id AND sl.product_id = ANY(%(products)s) AND sl.on_hand > sl.reserved
) AS free_units
FROM inventory_location l
LEFT JOIN orders_channellocation cl ON cl.location_id = l.id AND cl.channel_id = %(channel)s
WHERE (cl.id IS NOT NULL AND l.active) OR l.id = %(pickup)s
ORDER BY l.id = %(pickup)s DESC, cl.priority, l.code
"""


def _locations_and_free(*, channel, pickup, product_ids) -> tuple[list[Location], dict[tuple[int, int], int]]:
    rows = list(
        Location.objects.raw(
            _LOCATIONS_AND_FREE_SQL,
            {"products": list(product_ids), "channel": channel.pk, "pickup": pickup.pk if pickup else None},
        )
    )
    free: dict[tuple[int, int], int] = {}
    for location in rows:
        units = location.free_units
        for product_id, quantity in json.loads(units) if isinstance(units, str) else units:
            free[(product_id, location.pk)] = quantity
    return rows, free


def _free_stock(*, product_ids, location_ids) -> dict[tuple[int, int], int]:
    return {
        (p, loc): f
        for p, loc, f in StockLevel.objects.filter(product_id__in=product_ids, location_id__in=location_ids)
        .annotate(free=F("on_hand") - F("reserved"))
        .filter(free__gt=0)
        .values_list("product_id", "location_id", "free")
    }


@dataclass
class Preload:
    """What every decision of a batch reads the same way, read once (``sourcing_preload``)."""

    location_ids: list[int]
    locations: list
    free: dict[tuple[int, int], int]
    shifts: dict
    network: ShippingNetwork


def sourcing_preload(*, channel: Channel, product_ids, now: datetime | None = None) -> Preload:
    """The channel's locations, the free stock of these products there, the pickers' shifts and the
    carrier network, for a batch of decisions taken with ``decide(preload=...)``."""
    ids = channel_location_ids(channel=channel)
    by_id = {loc.pk: loc for loc in Location.objects.filter(pk__in=ids)}
    return Preload(
        location_ids=ids,
        locations=[by_id[i] for i in ids if i in by_id],
        free=_free_stock(product_ids=set(product_ids), location_ids=ids),
        shifts=shifts_ahead(location_ids=ids, since=now or timezone.now()),
        network=network_current(),
    )


class _Context:
    """Everything a decision reads, loaded once (a fixed number of queries)."""

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
    ):
        self.channel = channel
        self.lines = lines
        self.destination = destination
        self.mode = mode
        self.pickup = pickup_location
        self.now = now
        product_ids = sorted({product_id for line in lines for product_id, _q in line.demands})
        shifts = None
        if preload is not None and pickup_location is None and not exclude_location_ids:
            ids = preload.location_ids  # a batch: read once for all its orders
            self.locations = preload.locations
            wanted = set(product_ids)
            self.free = {k: v for k, v in preload.free.items() if k[0] in wanted}
            network = network if network is not None else preload.network
            shifts = preload.shifts
        elif connection.vendor == "postgresql":
            self.locations, self.free = _locations_and_free(
                channel=channel, pickup=pickup_location, product_ids=product_ids
            )
            excluded = set(exclude_location_ids)
            self.locations = [loc for loc in self.locations if loc.pk not in excluded]
            ids = [loc.pk for loc in self.locations]
        else:
            ids = channel_location_ids(channel=channel)
            if pickup_location is not None:
                ids = [pickup_location.pk] + [i for i in ids if i != pickup_location.pk]
            ids = [i for i in ids if i not in set(exclude_location_ids)]
            locations = {loc.pk: loc for loc in Location.objects.filter(pk__in=ids)}
            self.locations = [locations[i] for i in ids if i in locations]
            self.free: dict[tuple[int, int], int] = _free_stock(product_ids=product_ids, location_ids=ids)
        for key, quantity in (extra_free or {}).items():  # what-if replays: the order's own units
            self.free[key] = self.free.get(key, 0) + quantity
        if extra_free:  # a batch takes away what its earlier orders planned: nothing left is not free
            self.free = {key: quantity for key, quantity in self.free.items() if quantity > 0}
        self.network = network if network is not None else network_current()
        self.shifts = shifts if shifts is not None else shifts_ahead(location_ids=ids, since=now)
        self.split_penalty = Decimal(str(settings.SOURCING_SPLIT_PENALTY))
        self.lateness_per_day = Decimal(str(settings.SOURCING_LATENESS_COST_PER_DAY))
        self.storage_days = Decimal(settings.SOURCING_STORAGE_DAYS)
        self.max_parcels = settings.SOURCING_MAX_PARCELS
        self.has_services = bool(self.network.quotes(mode=self.mode, weight_g=0, distance_km=0))

    def needed(self) -> dict[int, int]:
        needed: dict[int, int] = {}
        for line in self.lines:
            for product_id, per_unit in line.demands:
                needed[product_id] = needed.get(product_id, 0) + line.quantity * per_unit
        return needed

    def distance(self, location: Location) -> float:
        if self.mode == "store" and self.pickup is not None:
            target = Point(float(self.pickup.latitude), float(self.pickup.longitude), "address")
        elif self.destination is None:
            return UNKNOWN_DISTANCE_KM
        else:
            target = self.destination
        return distance_km(origin=(location.latitude, location.longitude), destination=target)

    def finish_parcel(self, parcel: Parcel) -> Parcel:
        lines = self.lines
        parcel.units = sum(q for _, q in parcel.stock) + sum(q for _, _, q, _ in parcel.incoming)
        parcel.weight_g = sum(lines[i].weight_g * q for i, q in parcel.stock) + sum(
            lines[i].weight_g * q for i, _, q, _ in parcel.incoming
        )
        loc = parcel.location
        stock_units = sum(q * lines[i].units_per for i, q in parcel.stock)
        parcel.storage = (Decimal(stock_units) * loc.storage_cost_per_unit_day * self.storage_days).quantize(
            CENT
        )
        parcel.handling = (Decimal(parcel.line_count) * loc.handling_cost_per_line).quantize(CENT)
        parcel.distance_km = self.distance(loc)
        self_pickup = self.mode == "store" and self.pickup is not None and loc.pk == self.pickup.pk
        if self_pickup:
            parcel.quote = None
            parcel.shipping = Decimal("0")
        else:
            parcel.quote = self.network.cheapest(
                mode=self.mode, weight_g=parcel.weight_g, distance_km=parcel.distance_km
            )
            parcel.shipping = parcel.quote.price_excl_vat if parcel.quote else Decimal("0")
        self._dates(parcel, self_pickup=self_pickup)
        return parcel

    def _dates(self, parcel: Parcel, *, self_pickup: bool) -> None:
        now = timezone.localtime(self.now)
        ready = now
        if parcel.incoming:  # waits for the replenishment, received the morning it is expected
            latest = max(expected for *_, expected in parcel.incoming)
            start_of_day = timezone.make_aware(datetime.combine(latest, datetime.min.time()), now.tzinfo)
            ready = max(ready, start_of_day)
        slots = capacity_plan(
            shifts=self.shifts.get(parcel.location.pk, []), lines=max(1, parcel.line_count), not_before=ready
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
            days = (plan.delivery_date - timezone.localdate(self.now)).days
            plan.lateness = (self.lateness_per_day * max(0, days)).quantize(CENT)
        if self.has_services and any(
            p.quote is None and p.shipping == 0 and p.delivery_date is None for p in parcels
        ):
            plan.penalty = NO_SERVICE_PENALTY  # a parcel no service can carry: only if nothing better
        return plan


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


def _single_location_plans(ctx: _Context) -> list[list[Parcel]]:
    needed = ctx.needed()
    plans = []
    for loc in ctx.locations:
        if all(ctx.free.get((p, loc.pk), 0) >= q for p, q in needed.items()):
            plans.append([Parcel(location=loc, stock=[(line.index, line.quantity) for line in ctx.lines])])
    return plans


def _greedy(ctx: _Context, order: list[Location]) -> tuple[list[Parcel], dict[int, int]]:
    """Fill each line from the locations in ``order``; returns the parcels and what is still missing."""
    free = dict(ctx.free)
    parcels: dict[int, Parcel] = {}
    short: dict[int, int] = {}
    for line in ctx.lines:
        remaining = line.quantity
        for loc in order:
            take = min(remaining, line.servable(free, loc.pk))
            if take > 0:
                parcels.setdefault(loc.pk, Parcel(location=loc)).stock.append((line.index, take))
                for product_id, per_unit in line.demands:
                    free[(product_id, loc.pk)] -= take * per_unit
                remaining -= take
            if not remaining:
                break
        if remaining:
            short[line.index] = remaining
    ordered = [parcels[loc.pk] for loc in order if loc.pk in parcels]
    return ordered, short


def _add_incoming(ctx: _Context, parcels: list[Parcel], short: dict[int, int]) -> dict[int, int]:
    # Kits are sold from stock: a kit's short units are not pre-ordered (its components may be, alone).
    if any(ctx.lines[i].parts for i in short):
        return short
    by_location = {p.location.pk: p for p in parcels}
    location_by_id = {loc.pk: loc for loc in ctx.locations}
    incoming = list(
        IncomingStock.objects.filter(
            product_id__in={ctx.lines[i].product_id for i in short},
            location_id__in=list(location_by_id),
            status=IncomingStock.Status.OPEN,
            quantity__gt=F("reserved"),
        )
        .annotate(free=F("quantity") - F("reserved"))
        .order_by("expected_on", "pk")
        .values_list("pk", "product_id", "location_id", "free", "expected_on")
    )
    left = {pk: f for pk, _, _, f, _ in incoming}
    short = dict(short)
    for index in list(short):
        product_id = ctx.lines[index].product_id
        for pk, p, loc_id, _free, expected_on in incoming:
            if p != product_id or not left[pk]:
                continue
            take = min(short[index], left[pk])
            parcel = by_location.get(loc_id)
            if parcel is None:
                parcel = by_location[loc_id] = Parcel(location=location_by_id[loc_id])
                parcels.append(parcel)
            parcel.incoming.append((index, pk, take, expected_on))
            left[pk] -= take
            short[index] -= take
            if not short[index]:
                del short[index]
                break
    return short


def _candidates(ctx: _Context, strategy: str, allow_preorder: bool) -> list[Plan]:
    raw: list[list[Parcel]] = []
    singles = _single_location_plans(ctx)
    if strategy == "priority":
        raw = singles[:1] if singles else []
        if not raw:
            parcels, short = _greedy(ctx, ctx.locations)
            if not short:
                raw = [parcels]
    else:
        raw = list(singles)
        if not singles or strategy == "cost":
            # Splits built around each location: it serves what it can, the nearest others fill in.
            by_distance = sorted(ctx.locations, key=ctx.distance)
            for primary in ctx.locations:
                order = [primary] + [loc for loc in by_distance if loc.pk != primary.pk]
                parcels, short = _greedy(ctx, order)
                if not short and len(parcels) > 1:
                    raw.append(parcels)
    if ctx.mode == "store" and ctx.pickup is not None:
        own = [r for r in raw if len(r) == 1 and r[0].location.pk == ctx.pickup.pk]
        if own:
            raw = own  # the store's own stock first
    raw = [r for r in raw if len(r) <= ctx.max_parcels]
    if not raw and allow_preorder:
        order = (
            [ctx.pickup] + [loc for loc in ctx.locations if loc.pk != ctx.pickup.pk]
            if ctx.pickup
            else ctx.locations
        )
        parcels, short = _greedy(
            ctx, order if strategy == "priority" else sorted(ctx.locations, key=ctx.distance)
        )
        short = _add_incoming(ctx, parcels, short) if short else short
        if not short:
            raw = [parcels]
    seen, plans = set(), []
    for parcels in raw:
        plan = ctx.finish_plan(
            [Parcel(location=p.location, stock=list(p.stock), incoming=list(p.incoming)) for p in parcels]
        )
        if plan.key not in seen:
            seen.add(plan.key)
            plans.append(plan)
    return plans


def _rank(plan: Plan, strategy: str, ctx: _Context) -> tuple:
    far = date.max
    if strategy == "nearest":
        return (plan.penalty, len(plan.parcels), plan.distance_km, plan.delivery_date or far)
    if strategy == "priority":
        order = {loc.pk: i for i, loc in enumerate(ctx.locations)}
        return (plan.penalty, len(plan.parcels), sorted(order[p.location.pk] for p in plan.parcels))
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
) -> Decision:
    """Choose where every line ships from. Raises OutOfStock when no plan can serve the order."""
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
    )
    plans = _candidates(ctx, strategy, allow_preorder)
    if not plans:
        raise OutOfStock("Not enough stock.", details={})
    plans.sort(key=lambda p: _rank(p, strategy, ctx))
    return Decision(
        strategy=strategy,
        plan=plans[0],
        candidates=plans,
        destination=destination,
        lines=lines,
        network=ctx.network,
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
