"""Read queries of the orders app."""

from django.db.models import Prefetch, Sum

from inventory.models import StockLevel

from .models import Allocation, Order, OrderEvent, OrderLine


def order_detail_queryset():
    """An order with everything its detail page and API answer show, in a fixed number of queries."""
    return Order.objects.select_related("channel", "customer", "pickup_location").prefetch_related(
        Prefetch(
            "lines",
            queryset=OrderLine.objects.order_by("line_no").prefetch_related(
                Prefetch(
                    "allocations",
                    queryset=Allocation.objects.select_related("location", "incoming").order_by("pk"),
                )
            ),
        ),
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("-at", "-pk")),
    )


def order_get_for_channel(*, channel, number: str) -> Order | None:
    return order_detail_queryset().filter(channel=channel, number=number).first()


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


OPEN_STATUSES = ("allocated", "awaiting_stock", "in_preparation")


def late_risk_orders(*, location_ids=None, today=None):
    """Orders whose promise can no longer be met, or soon not: not shipped and past their planned ship
    date, or waiting for stock expected after it. Annotated with ``risk`` (``overdue`` | ``stock_late``)
    and ``stock_expected_on``; a fixed number of queries."""
    from django.db.models import Case, CharField, Exists, Max, OuterRef, Q, Value, When
    from django.utils import timezone

    today = today or timezone.localdate()
    late_stock = Allocation.objects.filter(
        line__order=OuterRef("pk"),
        kind=Allocation.Kind.INCOMING,
        incoming__expected_on__gt=OuterRef("planned_ship_date"),
    )
    qs = (
        Order.objects.filter(status__in=OPEN_STATUSES, planned_ship_date__isnull=False)
        .annotate(stock_late=Exists(late_stock))
        .filter(Q(planned_ship_date__lt=today) | Q(stock_late=True))
        .annotate(
            risk=Case(
                When(planned_ship_date__lt=today, then=Value("overdue")),
                default=Value("stock_late"),
                output_field=CharField(),
            ),
            stock_expected_on=Max("lines__allocations__incoming__expected_on"),
        )
        .select_related("channel", "customer")
        .order_by("planned_ship_date", "created_at")
    )
    if location_ids is not None:
        qs = qs.filter(
            Q(lines__allocations__location_id__in=location_ids) | Q(pickup_location_id__in=location_ids)
        ).distinct()
    return qs
