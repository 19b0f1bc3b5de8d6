"""Picker shifts and the capacity they give: each allocated order books its lines in the earliest shifts
of its source location, spilling to the next shift when one is full."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from common.audit import audit_deleted, audit_saved, audit_snapshot
from common.exceptions import DomainError

from ..locks import lock_bookings, lock_shift
from ..models import CapacityBooking, PickerShift

HORIZON_DAYS = 14
# What the audit log keeps of a shift (the lines booked change with every order, not by planning).
SHIFT_AUDIT_FIELDS = (
    "location",
    "date",
    "start",
    "end",
    "pickers",
    "lines_per_picker_hour",
    "capacity_lines",
)


class InvalidShift(DomainError):
    code = "invalid_shift"
    status_code = 422


@dataclass(frozen=True)
class ShiftSlot:
    shift_id: int
    date: date
    start: datetime
    end: datetime
    lines: int  # lines this order takes in the shift


def _duplicate_start(shift: PickerShift) -> InvalidShift:
    return InvalidShift(
        _("Another shift already starts at %(start)s on this day at this location.")
        % {"start": shift.start.strftime("%H:%M")},
        details={"date": str(shift.date), "start": str(shift.start)},
    )


def shift_check(*, shift: PickerShift, current: dict | None = None) -> None:
    """Every rule of a shift, writing nothing (raises InvalidShift): it ends after it starts, has pickers
    and a rate, no other shift starts at the same time at its location, and its capacity holds the lines
    already booked in it; a shift with booked lines stays on its day and at its location. Forms call it to
    show the message before saving; ``shift_save`` calls it again under the row lock."""
    if not shift._state.adding:
        if current is None:
            current = (
                PickerShift.objects.filter(pk=shift.pk).values("location_id", "date", "lines_booked").first()
            )
        if current is None:
            raise InvalidShift(_("This shift no longer exists."), details={"shift": shift.pk})
        shift.lines_booked = current["lines_booked"]
        moved = shift.date != current["date"] or shift.location_id != current["location_id"]
        if shift.lines_booked and moved:
            raise InvalidShift(
                _(
                    "%(booked)d lines are already booked in this shift: it cannot move to another day or "
                    "location. Add a new shift there instead."
                )
                % {"booked": shift.lines_booked},
                details={"booked": shift.lines_booked},
            )
    if shift.start is None or shift.end is None or shift.end <= shift.start:
        raise InvalidShift(
            _("A shift ends after it starts."), details={"start": str(shift.start), "end": str(shift.end)}
        )
    if not shift.pickers or not shift.lines_per_picker_hour:
        raise InvalidShift(_("A shift needs pickers and a picking rate."))
    capacity = shift.compute_capacity()
    if shift.lines_booked > capacity:
        raise InvalidShift(
            _(
                "%(booked)d lines are already booked in this shift; it cannot hold fewer "
                "(the new capacity would be %(capacity)d lines)."
            )
            % {"booked": shift.lines_booked, "capacity": capacity},
            details={"booked": shift.lines_booked, "capacity": capacity},
        )
    clash = PickerShift.objects.filter(location_id=shift.location_id, date=shift.date, start=shift.start)
    if not shift._state.adding:
        clash = clash.exclude(pk=shift.pk)
    if clash.exists():
        raise _duplicate_start(shift)


@transaction.atomic
def shift_save(*, shift: PickerShift) -> PickerShift:
    """Create or change a shift, its capacity computed. An existing shift is locked and its booked lines
    re-read first: bookings change them concurrently, and a stale figure is never written back."""
    current = None
    if not shift._state.adding:
        current = lock_shift(shift.pk).values("location_id", "date", "lines_booked").first()
        if current is None:
            raise InvalidShift(_("This shift no longer exists."), details={"shift": shift.pk})
    before = audit_snapshot(shift, fields=SHIFT_AUDIT_FIELDS) if current is not None else None
    shift_check(shift=shift, current=current)
    shift.capacity_lines = shift.compute_capacity()
    shift.full_clean(exclude=["location"] if shift.location_id else None, validate_constraints=False)
    try:
        with transaction.atomic():
            if shift._state.adding:
                shift.save()
            else:
                fields = [f.attname for f in PickerShift._meta.concrete_fields if not f.primary_key]
                shift.save(update_fields=[f for f in fields if f != "lines_booked"])
    except IntegrityError as exc:  # the same start planned concurrently
        raise _duplicate_start(shift) from exc
    audit_saved(instance=shift, before=before, fields=SHIFT_AUDIT_FIELDS)
    return shift


@transaction.atomic
def shift_delete(*, shift: PickerShift) -> None:
    """Delete a shift nobody's order is booked in (locked, so no booking lands in it meanwhile)."""
    locked = lock_shift(shift.pk).first()
    if locked is None:
        return  # already gone
    if locked.lines_booked or CapacityBooking.objects.filter(shift_id=locked.pk).exists():
        raise InvalidShift(
            _(
                "%(booked)d lines are already booked in this shift: it cannot be deleted. The orders "
                "booked in it must be re-planned first."
            )
            % {"booked": locked.lines_booked},
            details={"booked": locked.lines_booked},
        )
    audit_deleted(instance=locked, fields=SHIFT_AUDIT_FIELDS)
    locked.delete()


@transaction.atomic
def shifts_copy_week(*, location, from_monday: date, to_monday: date) -> int:
    """Copy a week's shifts to another week (those already planned there are kept)."""
    count = 0
    for shift in PickerShift.objects.filter(
        location=location, date__gte=from_monday, date__lt=from_monday + timedelta(7)
    ):
        day = to_monday + (shift.date - from_monday)
        if PickerShift.objects.filter(location=location, date=day, start=shift.start).exists():
            continue
        shift_save(
            shift=PickerShift(
                location=location,
                date=day,
                start=shift.start,
                end=shift.end,
                pickers=shift.pickers,
                lines_per_picker_hour=shift.lines_per_picker_hour,
            )
        )
        count += 1
    return count


@dataclass(frozen=True, slots=True)
class OpenShift:
    """A shift with capacity left, as sourcing reads it (no model instance: decisions must stay fast)."""

    pk: int
    date: date
    start: datetime
    end: datetime
    left: int


def shifts_ahead(*, location_ids, since: datetime, days: int = HORIZON_DAYS) -> dict[int, list[OpenShift]]:
    """Shifts with capacity left, per location, from ``since``'s day on (one query)."""
    local = timezone.localtime(since)
    tz = timezone.get_default_timezone()
    result: dict[int, list[OpenShift]] = {loc: [] for loc in location_ids}
    rows = (
        PickerShift.objects.filter(
            location_id__in=list(location_ids),
            date__gte=local.date(),
            date__lte=local.date() + timedelta(days),
            lines_booked__lt=F("capacity_lines"),
        )
        .order_by("date", "start", "pk")
        .values_list("pk", "location_id", "date", "start", "end", "capacity_lines", "lines_booked")
    )
    for pk, location_id, day, start, end, capacity, booked in rows:
        result[location_id].append(
            OpenShift(
                pk, day, datetime.combine(day, start, tz), datetime.combine(day, end, tz), capacity - booked
            )
        )
    return result


# Today's open shifts, then the later days' until their lines left reach what one order can book: what
# ``capacity_plan`` can use for an order of at most that many lines picked from now on.
_SHIFTS_FIRST_SQL = """
SELECT id, location_id, date, start, "end", capacity_lines - lines_booked FROM (
    SELECT s.*, coalesce(sum(s.capacity_lines - s.lines_booked) FILTER (WHERE s.date > %(today)s) OVER (
        PARTITION BY s.location_id ORDER BY s.date, s.start, s.id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ), 0) AS left_before
    FROM fulfillment_pickershift s
    WHERE s.location_id = ANY(%(locations)s) AND s.date >= %(today)s AND s.date <= %(last)s
      AND s.lines_booked < s.capacity_lines
) ahead
WHERE date = %(today)s OR left_before < %(lines)s
ORDER BY date, start, id
"""


def shifts_first(
    *, location_ids, since: datetime, lines: int, days: int = HORIZON_DAYS
) -> dict[int, list[OpenShift]]:
    """``shifts_ahead`` cut to what an order of at most ``lines`` lines picked from ``since`` can take:
    ``capacity_plan(shifts=..., lines=n, not_before=since)`` gives the same slots for any ``n <= lines``
    (today's shifts are all kept, later days' until their capacity left covers ``lines``). One query that
    reads a row or two per location, where ``shifts_ahead`` reads two weeks of them."""
    if connection.vendor != "postgresql":
        return shifts_ahead(location_ids=location_ids, since=since, days=days)
    local = timezone.localtime(since)
    tz = timezone.get_default_timezone()
    result: dict[int, list[OpenShift]] = {loc: [] for loc in location_ids}
    with connection.cursor() as cursor:
        cursor.execute(
            _SHIFTS_FIRST_SQL,
            {
                "locations": list(location_ids),
                "today": local.date(),
                "last": local.date() + timedelta(days),
                "lines": lines,
            },
        )
        rows = cursor.fetchall()
    combine = datetime.combine
    for pk, location_id, day, start, end, left in rows:
        result[location_id].append(OpenShift(pk, day, combine(day, start, tz), combine(day, end, tz), left))
    return result


def capacity_plan(*, shifts: list[OpenShift], lines: int, not_before: datetime) -> list[ShiftSlot] | None:
    """The slots an order of ``lines`` lines takes: the earliest shifts that start at or after
    ``not_before`` with capacity left, spilling over. None when the planned shifts cannot hold it."""
    slots = []
    remaining = lines
    for shift in shifts:
        if shift.start < not_before or shift.left <= 0:
            continue
        take = min(shift.left, remaining)
        slots.append(ShiftSlot(shift.pk, shift.date, shift.start, shift.end, take))
        remaining -= take
        if remaining == 0:
            return slots
    return None


def capacity_book(*, order_id: int, slots: list[ShiftSlot]) -> bool:
    """Book the slots (compare-and-set per shift, never above capacity). Returns False, booking nothing,
    when a shift filled up meanwhile: the caller re-plans."""
    with transaction.atomic():
        for slot in sorted(slots, key=lambda s: s.shift_id):
            updated = PickerShift.objects.filter(
                pk=slot.shift_id, lines_booked__lte=F("capacity_lines") - slot.lines
            ).update(lines_booked=F("lines_booked") + slot.lines)
            if not updated:
                transaction.set_rollback(True)
                return False
        CapacityBooking.objects.bulk_create(
            [CapacityBooking(shift_id=s.shift_id, order_id=order_id, lines=s.lines) for s in slots]
        )
    return True


@transaction.atomic
def capacity_release(*, order_id: int) -> int:
    """Give back an order's booked lines (cancelled or re-sourced)."""
    released = 0
    for booking in lock_bookings(order_id=order_id):
        PickerShift.objects.filter(pk=booking.shift_id).update(lines_booked=F("lines_booked") - booking.lines)
        released += booking.lines
        booking.delete()
    return released


def capacity_book_lines(
    *, order_id: int, location_id: int, lines: int, slots: list[ShiftSlot]
) -> list[ShiftSlot]:
    """Book ``lines`` for an order at a location: the planned slots if they are still free, else the
    earliest slots free now (shifts fill up between planning and booking)."""
    if capacity_book(order_id=order_id, slots=slots):
        return slots
    not_before = min(s.start for s in slots) if slots else timezone.now()
    for _attempt in range(3):
        fresh = capacity_plan(
            shifts=shifts_ahead(location_ids=[location_id], since=not_before)[location_id],
            lines=lines,
            not_before=not_before,
        )
        if fresh is None:
            return []  # the schedule cannot hold it: the late-risk view shows the order
        if capacity_book(order_id=order_id, slots=fresh):
            return fresh
    return []
