"""Row locks of the fulfillment app, in the project's lock order (ARCHITECTURE.md "Lock order"): after the
order (orders), a wave, then its preparations (by id), then their lines (by id), then parcels; before the
shipments, allocations and stock levels. Every fulfillment service locks through these helpers."""

from collections.abc import Iterable

from .models import Parcel, Preparation, PreparationLine, Wave


def lock_wave(wave_id: int) -> Wave:
    return Wave.objects.select_for_update(of=("self",)).select_related("location").get(pk=wave_id)


def lock_wave_preparations(wave_id: int) -> list[Preparation]:
    """Lock every preparation of a wave (before any of their lines)."""
    return list(Preparation.objects.select_for_update(of=("self",)).filter(wave_id=wave_id).order_by("pk"))


def lock_preparation(preparation_id: int) -> Preparation:
    return (
        Preparation.objects.select_for_update(of=("self",)).select_related("location").get(pk=preparation_id)
    )


def lock_preparations(
    *,
    order_id: int | None = None,
    location_id: int | None = None,
    ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    exclude_statuses: Iterable[str] | None = None,
) -> list[Preparation]:
    queryset = Preparation.objects.select_for_update(of=("self",))
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    if location_id is not None:
        queryset = queryset.filter(location_id=location_id)
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    if exclude_statuses is not None:
        queryset = queryset.exclude(status__in=list(exclude_statuses))
    return list(queryset.order_by("pk"))


def lock_lines(ids: Iterable[int]) -> dict[int, PreparationLine]:
    """Lock preparation lines (their preparations must be locked already), in id order."""
    rows = (
        PreparationLine.objects.select_for_update(of=("self",))
        .select_related("preparation")
        .filter(pk__in=list(ids))
        .order_by("pk")
    )
    return {line.pk: line for line in rows}


def lock_open_parcel(preparation_id: int) -> Parcel | None:
    return (
        Parcel.objects.select_for_update(of=("self",))
        .filter(preparation_id=preparation_id, status=Parcel.Status.OPEN)
        .first()
    )
