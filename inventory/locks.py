"""Row locks of the inventory app, taken in the project's one lock order (ARCHITECTURE.md "One lock order"):
... → allocations (by id) → stock levels (by product, then location) → incoming stock (by id). Every
inventory service that locks rows goes through these helpers, inside the caller's transaction.

Locks are ``FOR NO KEY UPDATE`` (``no_key=True``): they exclude other writers of the row but not the
``FOR KEY SHARE`` lock a foreign key check takes, so inserting an allocation or a movement that points to
a locked level, or to a locked replenishment, does not wait for the lock's holder."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from .models import Allocation, IncomingStock, StockLevel


def lock_allocations(queryset: QuerySet[Allocation]) -> list[Allocation]:
    """Lock these allocations, in id order."""
    return list(queryset.select_for_update(of=("self",), no_key=True).order_by("pk"))


def lock_levels(keys: Iterable[tuple[int, int]], *, create: bool = True) -> dict[tuple[int, int], StockLevel]:
    """Lock the stock levels of these (product id, location id) pairs, in that order, creating the missing
    ones (a level is created empty the first time a product is handled at a location): two statements
    whatever the number of levels. ``create=False``: one statement, for levels that must exist (units
    reserved there); a missing one is left out of the answer."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    if create:
        StockLevel.objects.bulk_create(
            [StockLevel(product_id=p, location_id=loc) for p, loc in keys], ignore_conflicts=True
        )
    wanted = Q()
    for product_id, location_id in keys:
        wanted |= Q(product_id=product_id, location_id=location_id)
    rows = StockLevel.objects.filter(wanted).order_by("product_id", "location_id")
    return {(lv.product_id, lv.location_id): lv for lv in rows.select_for_update(no_key=True)}


def lock_level(*, product_id: int, location_id: int) -> StockLevel:
    return lock_levels([(product_id, location_id)])[(product_id, location_id)]


def lock_incoming(incoming_id: int) -> IncomingStock:
    return IncomingStock.objects.select_for_update(no_key=True).get(pk=incoming_id)
