"""Where each line ships from. ``plan_allocations`` is the one decision point that the sourcing issue
replaces with cost-based plans; for now it follows the channel's location order:

1. a single location that can serve every line (fewer parcels), in the channel's order;
2. else each line from the locations in order (a split);
3. what stock cannot cover comes from incoming replenishments when pre-orders are allowed, earliest first;
4. else the order is refused with every short line and what is available.

Store pickup takes the chosen store's stock first.
"""

from dataclasses import dataclass

from django.db.models import F

from inventory.exceptions import OutOfStock
from inventory.models import IncomingStock, StockLevel

from ..models import Channel


@dataclass(frozen=True)
class PlannedAllocation:
    line_index: int
    product_id: int
    location_id: int
    quantity: int
    kind: str  # "stock" | "incoming"
    incoming_id: int | None = None
    expected_on: object = None


def channel_location_ids(*, channel: Channel) -> list[int]:
    return list(
        channel.channel_locations.filter(location__active=True)
        .order_by("priority", "location__code")
        .values_list("location_id", flat=True)
    )


def plan_allocations(
    *,
    channel: Channel,
    lines: list[tuple[int, int]],
    pickup_location_id: int | None = None,
    allow_preorder: bool = False,
) -> list[PlannedAllocation]:
    """``lines`` is a list of (product_id, quantity). Reads free stock without locks; the reservation
    itself is a compare-and-set, and the caller re-plans if stock moved in between."""
    order_ids = channel_location_ids(channel=channel)
    if pickup_location_id:
        order_ids = [pickup_location_id] + [i for i in order_ids if i != pickup_location_id]
    product_ids = {product_id for product_id, _ in lines}
    free: dict[tuple[int, int], int] = {
        (p, loc): f
        for p, loc, f in StockLevel.objects.filter(product_id__in=product_ids, location_id__in=order_ids)
        .annotate(free=F("on_hand") - F("reserved"))
        .filter(free__gt=0)
        .values_list("product_id", "location_id", "free")
    }

    # Quantity needed per product (a SKU may appear on several lines).
    needed: dict[int, int] = {}
    for product_id, quantity in lines:
        needed[product_id] = needed.get(product_id, 0) + quantity

    plan: list[PlannedAllocation] = []
    single = next(
        (loc for loc in order_ids if all(free.get((p, loc), 0) >= q for p, q in needed.items())), None
    )
    if single is not None:
        return [
            PlannedAllocation(index, product_id, single, quantity, "stock")
            for index, (product_id, quantity) in enumerate(lines)
        ]

    short: dict[int, int] = {}
    for index, (product_id, quantity) in enumerate(lines):
        remaining = quantity
        for loc in order_ids:
            take = min(remaining, free.get((product_id, loc), 0))
            if take > 0:
                plan.append(PlannedAllocation(index, product_id, loc, take, "stock"))
                free[(product_id, loc)] -= take
                remaining -= take
            if remaining == 0:
                break
        if remaining:
            short[index] = remaining

    if short and allow_preorder:
        incoming = list(
            IncomingStock.objects.filter(
                product_id__in={lines[i][0] for i in short},
                location_id__in=order_ids,
                status=IncomingStock.Status.OPEN,
                quantity__gt=F("reserved"),
            )
            .annotate(free=F("quantity") - F("reserved"))
            .order_by("expected_on", "pk")
            .values_list("pk", "product_id", "location_id", "free", "expected_on")
        )
        left = {pk: f for pk, _, _, f, _ in incoming}
        for index in list(short):
            product_id = lines[index][0]
            for pk, p, loc, _, expected_on in incoming:
                if p != product_id or not left[pk]:
                    continue
                take = min(short[index], left[pk])
                plan.append(PlannedAllocation(index, product_id, loc, take, "incoming", pk, expected_on))
                left[pk] -= take
                short[index] -= take
                if not short[index]:
                    del short[index]
                    break

    if short:
        raise OutOfStock(
            "Not enough stock for: " + ", ".join(f"line {i + 1} ({q} missing)" for i, q in short.items()),
            details={"lines": [{"line": i + 1, "missing": q} for i, q in short.items()]},
        )
    return plan
