"""Read side of the pickers' schedule: a location's week, day by day, with its capacity and bookings."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet

from shipping.calendar import is_public_holiday

from .models import PickerShift


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
