"""Row locks of the shipping app, in the project's lock order (ARCHITECTURE.md "Lock order"): shipments
(by id) come after the order and its preparations, before allocations and stock levels."""

from .models import Shipment


def lock_shipments(*, order_id: int | None = None, ids=None, statuses=None) -> list[Shipment]:
    queryset = Shipment.objects.select_for_update(of=("self",))
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    return list(queryset.order_by("pk"))


def lock_shipment(shipment_id: int) -> Shipment:
    return Shipment.objects.select_for_update(of=("self",)).get(pk=shipment_id)
