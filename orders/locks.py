"""Row locks of the orders app, first in the project's lock order (ARCHITECTURE.md "One lock order"): the
order comes before its return, preparations, shipments, allocations and stock levels.

``FOR NO KEY UPDATE``: a transaction holding an order does not block others inserting rows that point to
it (an event, an allocation, a notification take a ``FOR KEY SHARE`` lock for their foreign key check)."""

from .models import Order


def lock_order(order_id: int, *, related: tuple[str, ...] = ()) -> Order:
    """Lock one order (its row only) inside the caller's transaction."""
    queryset = Order.objects.select_for_update(of=("self",), no_key=True)
    if related:
        queryset = queryset.select_related(*related)
    return queryset.get(pk=order_id)


def lock_orders(order_ids) -> list[Order]:
    """Lock several orders, in id order."""
    return list(
        Order.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk__in=set(order_ids))
        .order_by("pk")
    )
