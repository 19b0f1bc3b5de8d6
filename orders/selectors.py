"""Read queries of the orders app."""

from django.db.models import Prefetch, Sum

from inventory.models import StockLevel

from .models import Allocation, Order, OrderEvent, OrderLine


def order_detail_queryset(*, timeline: bool = True):
    """An order with everything its detail page and API answer show, in a fixed number of queries
    (4; 3 without the timeline, which the answer to a creation does not show)."""
    queryset = Order.objects.select_related("channel", "customer", "pickup_location").prefetch_related(
        Prefetch(
            "lines",
            queryset=OrderLine.objects.order_by("line_no").prefetch_related(
                Prefetch(
                    "allocations",
                    queryset=Allocation.objects.select_related("location", "incoming").order_by("pk"),
                )
            ),
        )
    )
    if timeline:
        queryset = queryset.prefetch_related(
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("-at", "-pk"))
        )
    return queryset


def order_get_for_channel(*, channel, number: str, timeline: bool = True) -> Order | None:
    return order_detail_queryset(timeline=timeline).filter(channel=channel, number=number).first()


def reservation_differences() -> list[dict]:
    """Stock levels whose ``reserved`` differs from the sum of the stock allocations held on them (there must
    never be one while orders are the only thing that reserves)."""
    held = {
        (row["line__product_id"], row["location_id"]): row["total"]
        for row in Allocation.objects.filter(kind=Allocation.Kind.STOCK, consumed_at__isnull=True)
        .values("line__product_id", "location_id")
        .annotate(total=Sum("quantity"))
    }
    problems = []
    for level in StockLevel.objects.filter(reserved__gt=0).select_related("product", "location"):
        key = (level.product_id, level.location_id)
        allocated = held.pop(key, 0)
        if allocated != level.reserved:
            problems.append(
                {
                    "sku": level.product.sku,
                    "location": level.location.code,
                    "reserved": level.reserved,
                    "allocated": allocated,
                }
            )
    for (product_id, location_id), total in held.items():
        problems.append(
            {"product_id": product_id, "location_id": location_id, "reserved": 0, "allocated": total}
        )
    return problems
