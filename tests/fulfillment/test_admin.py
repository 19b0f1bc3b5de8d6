"""Django admin of the schedule: saving goes through shift_save; bookings are read-only."""

from datetime import date, time

from django.conf import settings
from django.urls import reverse

from fulfillment.models import CapacityBooking, PickerShift
from tests.fulfillment.factories import PickerShiftFactory

INLINE = {"bookings-TOTAL_FORMS": "0", "bookings-INITIAL_FORMS": "0"}


def _data(location, **changes):
    return {
        "location": location.pk,
        "date": "2026-11-23",
        "start": "06:00",
        "end": "13:00",
        "pickers": "4",
        "lines_per_picker_hour": "30",
        **INLINE,
        **changes,
    }


def test_admin_add_computes_the_capacity(admin_client, warehouse):
    response = admin_client.post(reverse("admin:fulfillment_pickershift_add"), _data(warehouse))
    assert response.status_code == 302
    shift = PickerShift.objects.get(location=warehouse)
    assert (shift.date, shift.capacity_lines, shift.lines_booked) == (date(2026, 11, 23), 840, 0)


def test_admin_refuses_shrinking_below_booked_lines(admin_client, warehouse):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    shift = PickerShiftFactory(location=warehouse, lines_booked=500)
    url = reverse("admin:fulfillment_pickershift_change", args=[shift.pk])
    response = admin_client.post(url, _data(warehouse, pickers="2"))
    assert response.status_code == 200  # the form again, with the error
    assert "500 lines are already booked in this shift" in response.content.decode()
    shift.refresh_from_db()
    assert (shift.pickers, shift.capacity_lines, shift.lines_booked) == (4, 840, 500)


def test_admin_cannot_set_booked_lines(admin_client, warehouse):
    shift = PickerShiftFactory(location=warehouse, lines_booked=10)
    url = reverse("admin:fulfillment_pickershift_change", args=[shift.pk])
    response = admin_client.post(url, _data(warehouse, pickers="5", lines_booked="0", capacity_lines="1"))
    assert response.status_code == 302
    shift.refresh_from_db()
    assert (shift.pickers, shift.capacity_lines, shift.lines_booked) == (5, 1050, 10)


def test_admin_lists_shifts_and_bookings_read_only(admin_client, warehouse):
    PickerShiftFactory(location=warehouse, start=time(6))
    response = admin_client.get(
        reverse("admin:fulfillment_pickershift_changelist"), {"location__id__exact": warehouse.pk}
    )
    assert response.status_code == 200
    assert admin_client.get(reverse("admin:fulfillment_capacitybooking_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:fulfillment_capacitybooking_add")).status_code == 403
    assert CapacityBooking.objects.count() == 0
