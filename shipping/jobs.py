"""The shipping app's queued jobs (common/jobs.py): a parcel's label from its carrier."""

from django.db.models import Q

from common.jobs import JobKind, register


def _label_given_up(ids: list[int]) -> None:
    from .models import Shipment, ShipmentStatus

    Shipment.objects.filter(pk__in=ids, status=ShipmentStatus.CREATED).update(
        status=ShipmentStatus.LABEL_FAILED,
        alert="label_failed",
        label_error="The label was asked for several times and never finished: ask for it again.",
    )


LABEL = register(
    JobKind(
        name="shipping.label",
        model="shipping.Shipment",
        task="shipping.shipment_label",
        pending=Q(status__in=["created", "label_failed"]),
        on_give_up=_label_given_up,
    )
)
