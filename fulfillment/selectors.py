"""Read side of the pickers' schedule: a location's week, day by day, with its capacity and bookings."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet, Sum

from common.versioned import VersionedMemo
from inventory.selectors import locations_for_user
from shipping.calendar import is_public_holiday

from .models import Box, Parcel, PickerShift, Preparation, PreparationLine, PreparationStatus, Wave


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class PlanningDay:
    date: date
    is_today: bool
    is_holiday: bool
    shifts: list[PickerShift] = field(default_factory=list)

    @property
    def capacity(self) -> int:
        return sum(s.capacity_lines for s in self.shifts)

    @property
    def booked(self) -> int:
        return sum(s.lines_booked for s in self.shifts)


@dataclass
class PlanningWeek:
    monday: date
    days: list[PlanningDay]

    @property
    def shift_count(self) -> int:
        return sum(len(d.shifts) for d in self.days)

    @property
    def capacity(self) -> int:
        return sum(d.capacity for d in self.days)

    @property
    def booked(self) -> int:
        return sum(d.booked for d in self.days)

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


def shifts_in_week(*, location, monday: date) -> QuerySet[PickerShift]:
    return PickerShift.objects.filter(
        location=location, date__gte=monday, date__lt=monday + timedelta(days=7)
    ).order_by("date", "start", "pk")


def planning_week(*, location, monday: date, today: date) -> PlanningWeek:
    """The seven days of the week starting ``monday`` at ``location`` with their shifts (one query)."""
    days = [
        PlanningDay(date=day, is_today=day == today, is_holiday=is_public_holiday(day))
        for day in (monday + timedelta(days=i) for i in range(7))
    ]
    for shift in shifts_in_week(location=location, monday=monday):
        days[(shift.date - monday).days].shifts.append(shift)
    return PlanningWeek(monday=monday, days=days)


# --- Waves, picking, packing -------------------------------------------------------------------------------


def _part_key(part: str) -> tuple:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


def bin_walk_key(bin_code: str, aisle_order: list[str]) -> tuple:
    """Walking order of a bin like ``A-03-2`` (aisle, rack, level): aisles in the location's order (then
    alphabetical), racks and levels numerically; products without a bin come last."""
    if not bin_code:
        return (1,)
    parts = [p for p in re.split(r"[-./ _]+", bin_code.strip().upper()) if p]
    if not parts:
        return (1,)
    aisle = parts[0]
    rank = aisle_order.index(aisle) if aisle in aisle_order else len(aisle_order)
    return (0, rank, aisle, tuple(_part_key(p) for p in parts[1:]))


def aisle_order_of(location) -> list[str]:
    return [a.strip().upper() for a in (location.aisle_order or "").split(",") if a.strip()]


@dataclass
class PickTarget:
    line_id: int
    preparation_id: int
    order_number: str
    tote: int | None
    quantity: int
    picked: int
    short: int

    @property
    def left(self) -> int:
        return self.quantity - self.picked


@dataclass
class PickStep:
    product_id: int
    sku: str
    name: str
    ean: str
    bin_code: str
    targets: list[PickTarget] = field(default_factory=list)

    @property
    def quantity(self) -> int:
        return sum(t.quantity for t in self.targets)

    @property
    def picked(self) -> int:
        return sum(t.picked for t in self.targets)

    @property
    def short(self) -> int:
        return sum(t.short for t in self.targets)

    @property
    def left(self) -> int:
        return self.quantity - self.picked

    @property
    def done(self) -> bool:
        return self.left <= 0


def wave_pick_lines(*, wave: Wave) -> list[PreparationLine]:
    """Every line of the wave's preparations (not cancelled), with its preparation, in tote order."""
    return list(
        PreparationLine.objects.filter(wave_filter(wave))
        .select_related("preparation")
        .order_by("preparation__tote", "pk")
    )


def wave_preparations(*, wave_id: int) -> list[Preparation]:
    """Every preparation of a wave, by id, read (``locks.lock_wave_preparations`` locks them)."""
    return list(Preparation.objects.filter(wave_id=wave_id).order_by("pk"))


def wave_pick_steps(*, wave: Wave, lines: list[PreparationLine] | None = None) -> list[PickStep]:
    """The wave's pick list: its lines grouped by product, in walking order of the bins, each with the
    totes (orders) its units go to. ``lines``: the wave's lines when already read (``wave_pick_lines``)."""
    if lines is None:
        lines = wave_pick_lines(wave=wave)
    steps: dict[int, PickStep] = {}
    for line in lines:
        step = steps.get(line.product_id)
        if step is None:
            step = steps[line.product_id] = PickStep(
                product_id=line.product_id, sku=line.sku, name=line.name, ean=line.ean, bin_code=line.bin_code
            )
        if line.quantity == 0 and not line.short:
            continue
        step.targets.append(
            PickTarget(
                line_id=line.pk,
                preparation_id=line.preparation_id,
                order_number=line.preparation.order_number,
                tote=line.preparation.tote,
                quantity=line.quantity,
                picked=line.picked,
                short=line.short,
            )
        )
    aisles = aisle_order_of(wave.location)
    return sorted(
        (s for s in steps.values() if s.targets), key=lambda s: (bin_walk_key(s.bin_code, aisles), s.sku)
    )


# The locations where units wait to be put back, kept per process while no put-back is written: a scan's
# answer lists the put-backs of its location, and almost every scan finds none (a Redis GET, no SQL). Every
# writer of ``PreparationLine.put_back`` calls ``put_backs_changed()``.
put_backs_memo = VersionedMemo("fulfillment:put-backs:version", setting="VERSIONED_MEMOS_CACHED")


def put_backs_changed() -> None:
    put_backs_memo.changed()


def _locations_with_put_backs() -> frozenset[int]:
    return frozenset(
        PreparationLine.objects.filter(put_back__gt=0)
        .values_list("preparation__location_id", flat=True)
        .distinct()
    )


def put_backs_at(*, location_id: int) -> list[PreparationLine]:
    """Units picked and then cancelled at a location, still in a tote: the picker puts them back in their
    bin and confirms it (the wave screen and the picking home list them, in walking order of the bins). A
    preparation cancelled whole has left its wave, so they are the location's, not the wave's."""
    if location_id not in put_backs_memo.get("locations", _locations_with_put_backs):
        return []
    lines = list(
        PreparationLine.objects.filter(preparation__location_id=location_id, put_back__gt=0)
        .select_related("preparation", "preparation__location")
        .order_by("pk")
    )
    if not lines:
        return []
    aisles = aisle_order_of(lines[0].preparation.location)
    return sorted(lines, key=lambda line: (bin_walk_key(line.bin_code, aisles), line.sku, line.pk))


def wave_filter(wave: Wave) -> Q:
    return Q(preparation__wave=wave) & ~Q(preparation__status=PreparationStatus.CANCELLED)


@dataclass
class WaveProgress:
    units: int
    picked: int
    short: int
    orders: int

    @property
    def percent(self) -> int:
        return int(100 * self.picked / self.units) if self.units else 100


def wave_progress(*, wave: Wave) -> WaveProgress:
    """One statement: the wave's preparations (not cancelled) joined to their lines (a preparation without
    a line still counts as an order)."""
    totals = (
        Preparation.objects.filter(wave=wave)
        .exclude(status=PreparationStatus.CANCELLED)
        .aggregate(
            units=Sum("lines__quantity"),
            picked=Sum("lines__picked"),
            short=Sum("lines__short"),
            orders=Count("pk", distinct=True),
        )
    )
    return WaveProgress(totals["units"] or 0, totals["picked"] or 0, totals["short"] or 0, totals["orders"])


def wave_progress_of(*, lines: list[PreparationLine], preparations) -> WaveProgress:
    """``wave_progress`` from what a scan read under the wave's lock: the wave's lines
    (``wave_pick_lines``) and its preparations; the same figures without a statement."""
    return WaveProgress(
        units=sum(line.quantity for line in lines),
        picked=sum(line.picked for line in lines),
        short=sum(line.short for line in lines),
        orders=sum(1 for prep in preparations if prep.status != PreparationStatus.CANCELLED),
    )


def waves_for_user(*, user, statuses=None) -> QuerySet[Wave]:
    qs = Wave.objects.filter(location__in=locations_for_user(user=user)).select_related("location", "picker")
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs.annotate(
        order_count=Count("preparations", filter=~Q(preparations__status=PreparationStatus.CANCELLED))
    )


def preparations_to_wave(*, user, location=None) -> QuerySet[Preparation]:
    qs = Preparation.objects.filter(
        location__in=locations_for_user(user=user),
        status=PreparationStatus.TO_PICK,
        kind=Preparation.Kind.SHIP,
    ).select_related("location", "service__carrier")
    if location is not None:
        qs = qs.filter(location=location)
    return qs


def preparations_to_pack(*, user, location=None) -> QuerySet[Preparation]:
    qs = Preparation.objects.filter(
        location__in=locations_for_user(user=user),
        kind=Preparation.Kind.SHIP,
        status=PreparationStatus.TO_PACK,
    ).select_related("location", "wave", "service__carrier")
    if location is not None:
        qs = qs.filter(location=location)
    return qs


def preparation_for_user(*, user, pk: int) -> Preparation | None:
    return (
        Preparation.objects.filter(pk=pk, location__in=locations_for_user(user=user))
        .select_related("location", "wave", "service__carrier")
        .first()
    )


def wave_for_user(*, user, pk: int) -> Wave | None:
    return (
        Wave.objects.filter(pk=pk, location__in=locations_for_user(user=user))
        .select_related("location")
        .first()
    )


@dataclass
class LocationFigures:
    location: object
    to_pick: int = 0
    picking: int = 0
    to_pack: int = 0
    packed_today: int = 0
    late: int = 0
    capacity_left: int = 0
    capacity_today: int = 0
    to_collect: int = 0


def dashboard_figures(*, locations, today: date, day_start, day_end) -> list[LocationFigures]:
    """Per location: orders to pick, in picking, to pack, parcels packed today, open work late versus the
    promise, and the picking capacity left in today's shifts."""
    ids = [loc.pk for loc in locations]
    figures = {loc.pk: LocationFigures(location=loc) for loc in locations}
    rows = (
        Preparation.objects.filter(location_id__in=ids)
        .exclude(status__in=[PreparationStatus.CANCELLED, PreparationStatus.COLLECTED])
        .values("location_id")
        .annotate(
            to_pick=Count("pk", filter=Q(status__in=[PreparationStatus.TO_PICK, PreparationStatus.WAVED])),
            picking=Count("pk", filter=Q(status=PreparationStatus.PICKING)),
            to_pack=Count("pk", filter=Q(status=PreparationStatus.TO_PACK, kind=Preparation.Kind.SHIP)),
            to_collect=Count("pk", filter=Q(status=PreparationStatus.READY)),
            late=Count(
                "pk",
                filter=Q(status__in=[*Preparation.OPEN, PreparationStatus.TO_PACK])
                & (Q(promised_latest__lt=today) | Q(ship_by__lt=today)),
            ),
        )
    )
    for row in rows:
        f = figures[row["location_id"]]
        f.to_pick, f.picking, f.to_pack = row["to_pick"], row["picking"], row["to_pack"]
        f.to_collect, f.late = row["to_collect"], row["late"]
    for row in (
        Parcel.objects.filter(
            preparation__location_id__in=ids,
            status=Parcel.Status.CLOSED,
            closed_at__gte=day_start,
            closed_at__lt=day_end,
        )
        .values("preparation__location_id")
        .annotate(n=Count("pk"))
    ):
        figures[row["preparation__location_id"]].packed_today = row["n"]
    for row in (
        PickerShift.objects.filter(location_id__in=ids, date=today)
        .values("location_id")
        .annotate(capacity=Sum("capacity_lines"), booked=Sum("lines_booked"))
    ):
        f = figures[row["location_id"]]
        f.capacity_today = row["capacity"] or 0
        f.capacity_left = max(0, (row["capacity"] or 0) - (row["booked"] or 0))
    return [figures[i] for i in ids]


# The active boxes, shown by every answer of the pack station: kept per process, checked against a version
# token in the shared cache and dropped by every write of a box (``Box`` saved or deleted: the admin, the
# demo; fulfillment/apps.py connects the signals). Read from PostgreSQL when the cache cannot answer.
boxes_memo = VersionedMemo("fulfillment:boxes:version", setting="VERSIONED_MEMOS_CACHED")


def active_boxes() -> list[Box]:
    """The boxes packers may choose, smallest first (read once per process while unchanged)."""
    return boxes_memo.get("active", lambda: tuple(Box.objects.filter(active=True)))


def boxes_changed(sender=None, **kwargs) -> None:
    boxes_memo.changed()
