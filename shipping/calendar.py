"""Working days for promises: carriers do not deliver on Sundays (unless their service says so) nor on
French public holidays (the ``holidays`` package)."""

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year).keys())


def is_public_holiday(day: date) -> bool:
    return day in _french_holidays(day.year)


def is_delivery_day(day: date, weekdays: set[int]) -> bool:
    return day.isoweekday() in weekdays and not is_public_holiday(day)


def add_working_days(start: date, days: int, weekdays: set[int]) -> date:
    """The date ``days`` working days after ``start`` (a ship date): each day in transit must be a day the
    carrier works; the result is itself a delivery day. ``days == 0`` gives the first delivery day on or
    after ``start``."""
    if not weekdays:
        raise ValueError("A carrier service needs at least one delivery day.")
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_delivery_day(day, weekdays):
            remaining -= 1
    while not is_delivery_day(day, weekdays):
        day += timedelta(days=1)
    return day


def next_working_day(day: date, weekdays: set[int] = frozenset({1, 2, 3, 4, 5})) -> date:
    """The first day on or after ``day`` that is a working day (for shipping from a location)."""
    while not is_delivery_day(day, set(weekdays)):
        day += timedelta(days=1)
    return day
