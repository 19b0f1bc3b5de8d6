"""Row locks of the fulfillment app, in the project's lock order (ARCHITECTURE.md "Lock order"): after the
order (orders), a wave, then its preparations (by id), then their lines (by id), then parcels; before the
shipments, allocations and stock levels. Every fulfillment service locks through these helpers."""

from collections.abc import Iterable

from django.db.models import QuerySet

from .models import (
    CapacityBooking,
    Parcel,
    PickerShift,
    Preparation,
    PreparationLine,
    PreparationStatus,
    ScanEvent,
    Wave,
    WaveSettings,
)


def lock_wave(wave_id: int, *, locations: QuerySet | None = None) -> Wave | None:
    """The wave, locked. With ``locations`` (a user's scope), only a wave at one of them, else None (the
    scope checked by the locking statement itself)."""
    queryset = Wave.objects.select_for_update(of=("self",), no_key=True).select_related("location")
    if locations is None:
        return queryset.get(pk=wave_id)
    return queryset.filter(pk=wave_id, location__in=locations).first()


def lock_wave_preparations(wave_id: int) -> list[Preparation]:
    """Lock every preparation of a wave (before any of their lines)."""
    return list(
        Preparation.objects.select_for_update(of=("self",), no_key=True)
        .filter(wave_id=wave_id)
        .order_by("pk")
    )


def lock_preparation(preparation_id: int, *, locations: QuerySet | None = None) -> Preparation | None:
    """The preparation, locked. With ``locations`` (a user's scope), only one at one of them, else None."""
    queryset = Preparation.objects.select_for_update(of=("self",), no_key=True).select_related("location")
    if locations is None:
        return queryset.get(pk=preparation_id)
    return queryset.filter(pk=preparation_id, location__in=locations).first()


def lock_preparations(
    *,
    order_id: int | None = None,
    location_id: int | None = None,
    ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    exclude_statuses: Iterable[str] | None = None,
) -> list[Preparation]:
    queryset = Preparation.objects.select_for_update(of=("self",), no_key=True)
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
        PreparationLine.objects.select_for_update(of=("self",), no_key=True)
        .select_related("preparation")
        .filter(pk__in=list(ids))
        .order_by("pk")
    )
    return {line.pk: line for line in rows}


def lock_open_parcel(preparation_id: int) -> Parcel | None:
    return (
        Parcel.objects.select_for_update(of=("self",), no_key=True)
        .filter(preparation_id=preparation_id, status=Parcel.Status.OPEN)
        .first()
    )


def lock_preparation_lines(preparation_id: int, *, product_id: int | None = None) -> list[PreparationLine]:
    """Lock the lines of one preparation (locked already), or those of one product, in id order."""
    queryset = PreparationLine.objects.select_for_update(of=("self",), no_key=True).filter(
        preparation_id=preparation_id
    )
    if product_id is not None:
        queryset = queryset.filter(product_id=product_id)
    return list(queryset.order_by("pk"))


def lock_preparations_to_release(*, location_id: int, locations: QuerySet | None = None) -> list[Preparation]:
    """The ship preparations of a location waiting for a wave, skipping those another release holds (two
    releases never share an order), in id order. With ``locations`` (a user's scope), none unless the
    location is one of them (the scope checked by the locking statement itself)."""
    queryset = Preparation.objects.select_for_update(skip_locked=True, of=("self",), no_key=True).filter(
        location_id=location_id,
        status=PreparationStatus.TO_PICK,
        kind=Preparation.Kind.SHIP,
    )
    if locations is not None:
        queryset = queryset.filter(location__in=locations)
    return list(queryset.order_by("pk"))


def lock_last_scan(queryset: QuerySet[ScanEvent]) -> ScanEvent | None:
    """Lock the newest scan of ``queryset`` (taken under its wave's or preparation's lock)."""
    return queryset.select_for_update(of=("self",), no_key=True).order_by("-pk").first()


def lock_wave_settings(location_id: int) -> WaveSettings | None:
    return WaveSettings.objects.select_for_update(no_key=True).filter(location_id=location_id).first()


def lock_shift(shift_id: int) -> QuerySet[PickerShift]:
    """A picker shift, locked when evaluated (shifts are taken alone or after the order, by id)."""
    return PickerShift.objects.select_for_update(no_key=True).filter(pk=shift_id)


def lock_bookings(*, order_id: int) -> list[CapacityBooking]:
    """An order's capacity bookings, in the order of their shifts (after the order's lock)."""
    return list(
        CapacityBooking.objects.select_for_update(no_key=True).filter(order_id=order_id).order_by("shift_id")
    )
