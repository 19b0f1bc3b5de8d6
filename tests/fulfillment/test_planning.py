"""The pickers' planning page: a week per location, adding, editing, deleting and copying shifts."""

from datetime import date, time, timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from fulfillment.models import PickerShift
from fulfillment.selectors import monday_of
from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from tests.fulfillment.factories import PickerShiftFactory

MONDAY = date(2026, 11, 23)


@pytest.fixture
def manager_client(client, role_users):
    client.force_login(role_users[MANAGER])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def week(warehouse):
    """Lyon's week of 23 November 2026: two shifts on Monday, one on Wednesday and one on Saturday."""
    return [
        PickerShiftFactory(location=warehouse, date=MONDAY, start=time(6), end=time(13), pickers=4),
        PickerShiftFactory(location=warehouse, date=MONDAY, start=time(13), end=time(20), pickers=3),
        PickerShiftFactory(
            location=warehouse, date=MONDAY + timedelta(2), start=time(6), end=time(13), pickers=2
        ),
        PickerShiftFactory(
            location=warehouse, date=MONDAY + timedelta(5), start=time(8), end=time(12), pickers=2
        ),
    ]


def shifts_of(location, monday) -> list[tuple]:
    return list(
        PickerShift.objects.filter(location=location, date__gte=monday, date__lt=monday + timedelta(7))
        .order_by("date", "start")
        .values_list(
            "date", "start", "end", "pickers", "lines_per_picker_hour", "capacity_lines", "lines_booked"
        )
    )


def planning(client, **params):
    return client.get(reverse("fulfillment:planning"), params)


# The week view


def test_week_view_shows_the_shifts_of_the_week_and_location(
    manager_client, week, warehouse, other_warehouse, django_assert_max_num_queries
):
    elsewhere = PickerShiftFactory(location=other_warehouse, date=MONDAY)
    next_week = PickerShiftFactory(location=warehouse, date=MONDAY + timedelta(7))
    last_sunday = PickerShiftFactory(location=warehouse, date=MONDAY - timedelta(1))
    with django_assert_max_num_queries(9):
        response = planning(manager_client, location="lyon", week="2026-11-25")  # any day of the week
    assert response.status_code == 200
    days = response.context["week"].days
    assert [d.date for d in days] == [MONDAY + timedelta(i) for i in range(7)]
    assert [[s.pk for s in d.shifts] for d in days] == [
        [week[0].pk, week[1].pk],
        [],
        [week[2].pk],
        [],
        [],
        [week[3].pk],
        [],
    ]
    html = response.content.decode()
    for shift in week:
        assert f'id="shift-{shift.pk}"' in html
    for shift in (elsewhere, next_week, last_sunday):
        assert f'id="shift-{shift.pk}"' not in html
    assert "06:00–13:00" in html
    assert "4 pickers" in html and "30 lines/h each" in html
    assert '<meter class="capacity-bar" min="0" max="840" value="0"' in html  # 4 × 7 h × 30
    assert "0 / 840 lines booked" in html
    assert response.context["week"].capacity == 840 + 630 + 420 + 240
    # the week navigator
    assert "week=2026-11-16" in html and "week=2026-11-30" in html


def test_week_view_queries_do_not_grow_with_shifts(manager_client, warehouse, django_assert_max_num_queries):
    for day in range(7):
        for hour in range(6, 20, 2):
            PickerShiftFactory(
                location=warehouse, date=MONDAY + timedelta(day), start=time(hour), end=time(hour + 1)
            )
    with django_assert_max_num_queries(9):
        response = planning(manager_client, location="lyon", week="2026-11-23")
    assert response.context["week"].shift_count == 49


def test_week_view_shows_booked_lines(manager_client, warehouse):
    shift = PickerShiftFactory(location=warehouse, date=MONDAY, pickers=1, end=time(8), lines_booked=45)
    html = planning(manager_client, location="lyon", week="2026-11-23").content.decode()
    assert f'<meter class="capacity-bar" min="0" max="60" value="{shift.lines_booked}"' in html
    assert "45 / 60 lines booked" in html


def test_week_view_defaults_to_a_warehouse_and_this_week(manager_client, warehouse, store):
    response = planning(manager_client, week="not-a-date")
    assert response.status_code == 200
    assert response.context["location"] == warehouse
    assert response.context["week"].monday == response.context["this_monday"]
    assert [loc.code for loc in response.context["locations"]] == ["paris", "lyon"]


def test_unknown_location_is_404(manager_client, warehouse):
    assert planning(manager_client, location="nowhere").status_code == 404


def test_public_holidays_are_marked(manager_client, warehouse):
    response = planning(manager_client, location="lyon", week="2026-12-21")
    assert [d.is_holiday for d in response.context["week"].days] == [
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]


# Adding and editing a shift


def test_add_a_shift(manager_client, warehouse):
    url = reverse("fulfillment:shift_create")
    form = manager_client.get(url, {"location": "lyon", "date": "2026-11-24"}).context["form"]
    assert form.initial["date"] == date(2026, 11, 24)
    response = manager_client.post(
        url,
        {
            "location": warehouse.pk,
            "date": "2026-11-24",
            "start": "07:00",
            "end": "12:30",
            "pickers": "3",
            "lines_per_picker_hour": "40",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('fulfillment:planning')}?location=lyon&week=2026-11-23"
    assert shifts_of(warehouse, MONDAY) == [(date(2026, 11, 24), time(7), time(12, 30), 3, 40, 660, 0)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": "06:00"}, "A shift ends after it starts."),
        ({"start": "06:00"}, "Another shift already starts at 06:00 on this day at this location."),
        ({"pickers": "0"}, "greater than or equal to 1"),
        ({"start": "soon"}, "Enter a valid time."),
    ],
)
def test_add_a_shift_refusals_write_nothing(manager_client, week, warehouse, changes, message):
    before = shifts_of(warehouse, MONDAY)
    data = {
        "location": warehouse.pk,
        "date": "2026-11-23",
        "start": "20:00",
        "end": "22:00",
        "pickers": "2",
        "lines_per_picker_hour": "30",
        **changes,
    }
    response = manager_client.post(reverse("fulfillment:shift_create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert shifts_of(warehouse, MONDAY) == before


def test_a_shift_cannot_be_added_at_a_location_outside_the_list(manager_client, warehouse):
    from tests.inventory.factories import LocationFactory

    closed = LocationFactory(code="closed", active=False)
    data = {"location": closed.pk, "date": "2026-11-23", "start": "08:00", "end": "12:00", "pickers": "1"}
    data["lines_per_picker_hour"] = "30"
    response = manager_client.post(reverse("fulfillment:shift_create"), data)
    assert response.status_code == 400
    assert not PickerShift.objects.filter(location=closed).exists()


def _edit(client, shift, **changes):
    data = {
        "location": shift.location_id,
        "date": shift.date.isoformat(),
        "start": shift.start.strftime("%H:%M"),
        "end": shift.end.strftime("%H:%M"),
        "pickers": str(shift.pickers),
        "lines_per_picker_hour": str(shift.lines_per_picker_hour),
        **changes,
    }
    return client.post(reverse("fulfillment:shift_edit", args=[shift.pk]), data)


def test_edit_a_shift_recomputes_its_capacity_and_keeps_its_bookings(manager_client, warehouse):
    shift = PickerShiftFactory(location=warehouse, date=MONDAY, pickers=4, lines_booked=100)
    assert manager_client.get(reverse("fulfillment:shift_edit", args=[shift.pk])).status_code == 200
    response = _edit(manager_client, shift, pickers="5", end="14:00")
    assert response.status_code == 302
    assert shifts_of(warehouse, MONDAY) == [(MONDAY, time(6), time(14), 5, 30, 1200, 100)]


def test_shrinking_a_shift_below_its_booked_lines_is_refused(manager_client, warehouse):
    shift = PickerShiftFactory(location=warehouse, date=MONDAY, pickers=4, lines_booked=500)  # capacity 840
    before = shifts_of(warehouse, MONDAY)
    response = _edit(manager_client, shift, pickers="2")  # 420 lines
    assert response.status_code == 400
    html = response.content.decode()
    assert "500 lines are already booked in this shift; it cannot hold fewer" in html
    assert "(the new capacity would be 420 lines)" in html
    assert shifts_of(warehouse, MONDAY) == before


def test_a_shift_with_booked_lines_cannot_move_to_another_day(manager_client, warehouse):
    shift = PickerShiftFactory(location=warehouse, date=MONDAY, lines_booked=10)
    before = shifts_of(warehouse, MONDAY)
    response = _edit(manager_client, shift, date="2026-11-24")
    assert response.status_code == 400
    assert "it cannot move to another day or location" in response.content.decode()
    assert shifts_of(warehouse, MONDAY) == before


def test_saving_never_writes_back_a_stale_booked_figure(warehouse):
    from fulfillment.services import shift_save

    shift = PickerShiftFactory(location=warehouse, date=MONDAY, pickers=4)
    stale = PickerShift.objects.get(pk=shift.pk)
    PickerShift.objects.filter(pk=shift.pk).update(lines_booked=300)  # an order booked meanwhile
    stale.pickers = 5
    shift_save(shift=stale)
    assert shifts_of(warehouse, MONDAY) == [(MONDAY, time(6), time(13), 5, 30, 1050, 300)]


# Deleting a shift


def test_delete_a_shift_after_confirming(manager_client, week, warehouse):
    url = reverse("fulfillment:shift_delete", args=[week[1].pk])
    html = manager_client.get(url).content.decode()
    assert "its 630 lines of capacity will no longer be offered to new orders" in html
    response = manager_client.post(url)
    assert response.status_code == 302
    assert not PickerShift.objects.filter(pk=week[1].pk).exists()
    assert len(shifts_of(warehouse, MONDAY)) == 3


def test_deleting_a_shift_with_booked_lines_is_refused(manager_client, warehouse):
    shift = PickerShiftFactory(location=warehouse, date=MONDAY, lines_booked=12)
    before = shifts_of(warehouse, MONDAY)
    response = manager_client.post(reverse("fulfillment:shift_delete", args=[shift.pk]))
    assert response.status_code == 400
    assert "12 lines are already booked in this shift: it cannot be deleted." in response.content.decode()
    assert shifts_of(warehouse, MONDAY) == before


# Copying a week


def test_copy_this_week_to_next_week_once(manager_client, week, warehouse):
    next_monday = MONDAY + timedelta(7)
    PickerShiftFactory(location=warehouse, date=next_monday, start=time(6), end=time(10), pickers=1)  # kept
    url = reverse("fulfillment:week_copy")
    html = manager_client.get(url, {"location": "lyon", "week": "2026-11-23"}).content.decode()
    assert "The 4 shifts of the week of" in html

    response = manager_client.post(url, {"location": "lyon", "week": "2026-11-25"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('fulfillment:planning')}?location=lyon&week=2026-11-30"
    expected = [
        (next_monday, time(6), time(10), 1, 30, 120, 0),  # already planned: not replaced
        (next_monday, time(13), time(20), 3, 30, 630, 0),
        (next_monday + timedelta(2), time(6), time(13), 2, 30, 420, 0),
        (next_monday + timedelta(5), time(8), time(12), 2, 30, 240, 0),
    ]
    assert shifts_of(warehouse, next_monday) == expected
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["3 shifts copied to the week of Nov. 30, 2026."]

    # again: nothing more
    response = manager_client.post(url, {"location": "lyon", "week": "2026-11-23"})
    assert response.status_code == 302
    assert shifts_of(warehouse, next_monday) == expected
    assert len(shifts_of(warehouse, MONDAY)) == 4


@pytest.mark.parametrize("role", [WAREHOUSE_STAFF, STORE_STAFF, CUSTOMER_SERVICE])
def test_only_managers_plan(client, role_users, week, warehouse, role):
    client.force_login(role_users[role])
    response = client.post(reverse("fulfillment:week_copy"), {"location": "lyon", "week": "2026-11-23"})
    assert response.status_code == 403
    response = client.post(reverse("fulfillment:shift_delete", args=[week[0].pk]))
    assert response.status_code == 403
    assert shifts_of(warehouse, MONDAY + timedelta(7)) == []
    assert len(shifts_of(warehouse, MONDAY)) == 4


def test_copy_with_a_bad_location_is_refused(manager_client, week, warehouse):
    response = manager_client.post(
        reverse("fulfillment:week_copy"), {"location": "nowhere", "week": "2026-11-23"}
    )
    assert response.status_code == 400
    assert shifts_of(warehouse, MONDAY + timedelta(7)) == []


def test_monday_of():
    assert monday_of(date(2026, 11, 29)) == MONDAY
    assert monday_of(MONDAY) == MONDAY
