"""What-if: replay the orders of a period under another sourcing strategy, in memory (no writes), and
compare total cost, parcels and promised days with what was actually done. Managers use it to choose a
strategy. Stock is today's free stock plus each order's own units (so its real plan stays possible);
capacity is today's schedule. An approximation, stated on the report."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from common.exceptions import DomainError
from inventory.models import Allocation
from shipping.selectors import ShippingNetwork

from ..models import DeliveryMode, Order, OrderStatus
from .sourcing import LineRequest, decide, destination_of, score_allocations


@dataclass
class Totals:
    orders: int = 0
    cost: Decimal = Decimal("0")
    parcels: int = 0
    promised_days: int = 0
    dated: int = 0
    by_location: dict = field(default_factory=lambda: defaultdict(int))

    @property
    def average_days(self) -> float | None:
        return round(self.promised_days / self.dated, 2) if self.dated else None

    def add(self, plan, created) -> None:
        self.orders += 1
        self.cost += plan.total
        self.parcels += len(plan.parcels)
        for parcel in plan.parcels:
            self.by_location[parcel.location.code] += 1
        if plan.delivery_date:
            self.promised_days += (plan.delivery_date - timezone.localdate(created)).days
            self.dated += 1

    def as_dict(self) -> dict:
        return {
            "orders": self.orders,
            "cost": str(self.cost.quantize(Decimal("0.01"))),
            "parcels": self.parcels,
            "average_promised_days": self.average_days,
            "parcels_by_location": dict(self.by_location),
        }


@dataclass
class WhatIfReport:
    strategy: str
    days: int
    actual: Totals
    replayed: Totals
    skipped: int

    def as_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "days": self.days,
            "actual": self.actual.as_dict(),
            "what_if": self.replayed.as_dict(),
            "skipped": self.skipped,
            "saving": str((self.actual.cost - self.replayed.cost).quantize(Decimal("0.01"))),
        }


def sourcing_whatif(*, strategy: str, days: int = 30, channel=None, limit: int = 5000) -> WhatIfReport:
    since = timezone.now() - timedelta(days=days)
    orders = (
        Order.objects.filter(created_at__gte=since)
        .exclude(status=OrderStatus.CANCELLED)
        .select_related("channel", "pickup_location")
        .prefetch_related("lines__product", "lines__allocations")
        .order_by("created_at")
    )
    if channel is not None:
        orders = orders.filter(channel=channel)
    network = ShippingNetwork()
    actual, replayed, skipped = Totals(), Totals(), 0
    for order in orders[:limit]:
        lines = [
            LineRequest(i, line.product_id, line.sku, line.quantity, line.product.weight_g)
            for i, line in enumerate(order.lines.all())
        ]
        allocations = [
            (i, a.location_id, a.quantity)
            for i, line in enumerate(order.lines.all())
            for a in line.allocations.all()
            if a.kind == Allocation.Kind.STOCK
        ]
        kits = any(line.components for line in order.lines.all())
        if kits or not allocations or sum(q for *_, q in allocations) != sum(line.quantity for line in lines):
            skipped += 1  # pre-orders, kits and orders without stock allocations are not replayed
            continue
        destination = None
        if order.delivery_mode != DeliveryMode.STORE:
            destination = destination_of(
                postcode=order.ship_postcode,
                country=order.ship_country,
                latitude=order.ship_latitude,
                longitude=order.ship_longitude,
            )
        own = defaultdict(int)
        for index, location_id, quantity in allocations:
            own[(lines[index].product_id, location_id)] += quantity
        common = {
            "channel": order.channel,
            "lines": lines,
            "mode": order.delivery_mode,
            "destination": destination,
            "pickup_location": order.pickup_location,
            "now": order.created_at,
            "network": network,
        }
        try:
            done = score_allocations(allocations=allocations, **common)
            alternative = decide(strategy=strategy, extra_free=dict(own), **common).plan
        except DomainError:
            skipped += 1
            continue
        actual.add(done, order.created_at)
        replayed.add(alternative, order.created_at)
    return WhatIfReport(strategy=strategy, days=days, actual=actual, replayed=replayed, skipped=skipped)
