"""Row locks of the shipping app, in the project's lock order (ARCHITECTURE.md "Lock order"): shipments
(by id) come after the order and its preparations, before allocations and stock levels."""

from .models import ParcelReturnLabel, Shipment


def lock_shipments(*, order_id: int | None = None, ids=None, statuses=None, fields=None) -> list[Shipment]:
    """``ids`` a list, or a filter expression on the id (the tracking batch's ``ids_filter``: one array
    parameter); ``fields`` only those (``.only``)."""
    queryset = Shipment.objects.select_for_update(of=("self",), no_key=True)
    if fields is not None:
        queryset = queryset.only(*fields)
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    if ids is not None:
        if hasattr(ids, "resolve_expression"):
            queryset = queryset.filter(ids)
        else:
            queryset = queryset.filter(pk__in=list(ids))
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    return list(queryset.order_by("pk"))


def lock_shipment(shipment_id: int, *, related: tuple[str, ...] = ()) -> Shipment:
    queryset = Shipment.objects.select_for_update(of=("self",), no_key=True)
    if related:
        queryset = queryset.select_related(*related)
    return queryset.get(pk=shipment_id)


def lock_return_label(label_id: int) -> ParcelReturnLabel:
    """The return label slipped in a parcel (taken with its shipment's, after it)."""
    return ParcelReturnLabel.objects.select_for_update(no_key=True).get(pk=label_id)
