from datetime import date, time

import factory

from fulfillment.models import PickerShift
from fulfillment.services import shift_save
from tests.inventory.factories import LocationFactory


class PickerShiftFactory(factory.django.DjangoModelFactory):
    """Saved through ``shift_save``, so the capacity is computed as in the application."""

    class Meta:
        model = PickerShift

    location = factory.SubFactory(LocationFactory)
    date = date(2026, 11, 23)
    start = time(6, 0)
    end = time(13, 0)
    pickers = 4
    lines_per_picker_hour = 30

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        lines_booked = kwargs.pop("lines_booked", 0)
        shift = shift_save(shift=model_class(*args, **kwargs))
        if lines_booked:
            PickerShift.objects.filter(pk=shift.pk).update(lines_booked=lines_booked)
            shift.lines_booked = lines_booked
        return shift
