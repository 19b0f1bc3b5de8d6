"""Row locks of the inventory app, taken in the project's one lock order (ARCHITECTURE.md "Lock order"):
... → allocations (by id) → stock levels (by product, then location) → incoming stock (by id). Every
inventory service that locks rows goes through these helpers, inside the caller's transaction."""

from collections.abc import Iterable

from django.db.models import QuerySet

from .models import Allocation, IncomingStock, StockLevel


def lock_allocations(queryset: QuerySet[Allocation]) -> list[Allocation]:
    """Lock these allocations, in id order."""
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def lock_levels(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Lock the stock levels of these (product id, location id) pairs, in that order, creating the missing
    ones (a level is created empty the first time a product is handled at a location)."""
    keys = sorted(set(keys))
    levels: dict[tuple[int, int], StockLevel] = {}
    for product_id, location_id in keys:
        StockLevel.objects.get_or_create(product_id=product_id, location_id=location_id)
        levels[(product_id, location_id)] = StockLevel.objects.select_for_update().get(
            product_id=product_id, location_id=location_id
        )
    return levels


def lock_level(*, product_id: int, location_id: int) -> StockLevel:
    return lock_levels([(product_id, location_id)])[(product_id, location_id)]


def lock_incoming(incoming_id: int) -> IncomingStock:
    return IncomingStock.objects.select_for_update().get(pk=incoming_id)
