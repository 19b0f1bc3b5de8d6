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


def floor_matrix_objects(*, manager):
    """What the role matrix opens on the warehouse floor: the matrix order's preparation at lyon in wave
    990301, picked, one parcel closed (990301), and a finished print job 990301 of the manager's."""
    from django.core.files.base import ContentFile

    from fulfillment.models import DocumentJob, Parcel, Preparation, PreparationLine, Wave
    from inventory.models import Location
    from orders.models import Order
    from shipping.models import Shipment

    order = Order.objects.get(number="CMD-MATRIX-1")
    lyon = Location.objects.get(code="lyon")
    line = order.lines.get()
    wave = Wave.objects.create(pk=990301, location=lyon, status=Wave.Status.DONE)
    prep = Preparation.objects.create(
        pk=990301, order=order, order_number=order.number, location=lyon, status="to_pack", wave=wave, tote=1
    )
    PreparationLine.objects.create(
        preparation=prep,
        order_line=line,
        product=line.product,
        sku=line.sku,
        name=line.name,
        quantity=2,
        picked=2,
    )
    from datetime import time

    from shipping.models import Carrier, CarrierService, Manifest

    carrier = Carrier.objects.create(pk=990301, code="matrix-floor", name="Matrix floor")
    service = CarrierService.objects.create(
        pk=990301, carrier=carrier, code="home", name="Home", delivery_mode="home", cutoff_time=time(16)
    )
    manifest = Manifest.objects.create(pk=990301, location=lyon, carrier=carrier)
    shipment = Shipment.objects.create(
        pk=990301,
        number="CMD-MATRIX-1-1",
        order=order,
        location=lyon,
        weight_g=300,
        service=service,
        status="handed_over",
        manifest=manifest,
    )
    shipment.label_pdf.save("matrix-label.pdf", ContentFile(b"%PDF-1.4 label"), save=True)
    Parcel.objects.create(
        pk=990301, preparation=prep, seq=1, status="closed", weight_g=300, shipment=shipment
    )
    job = DocumentJob.objects.create(
        pk=990301, kind="pick_lists", status="done", created_by=manager, total=1, done=1
    )
    job.file.save("matrix.pdf", ContentFile(b"%PDF-1.4 matrix"), save=True)
