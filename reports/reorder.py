"""Reorder suggestions per SKU and location, from the stored forecasts and today's stock.

For each location where a SKU sells (its share of the SKU's recent allocations):
- daily demand = the forecast's mean units per day × the location's share;
- lead-time demand = the forecast's units over the lead time × the share;
- safety stock = z(service level) × σ × √(lead time), σ being the standard deviation of the location's
  daily units (recent weeks);
- reorder point = lead-time demand + safety stock (rounded up to whole units);
- stock position = available (on hand − reserved) + open replenishments still expected (not reserved by
  pre-orders);
- days of cover = available ÷ daily demand;
- when the position is at or below the reorder point, the suggested quantity brings it up to the reorder
  point plus the demand of one review period (the time until the next purchase list).

Lead time is per location (``ReorderPolicy``, editable in admin), defaulting to the settings' value for
the location's kind: how long replenishment takes depends on how the location is supplied (a warehouse
from suppliers, a store by transfer from a warehouse) more than on the product, and the catalogue has no
supplier per product to hang a product lead time on.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

from django.conf import settings
from django.db.models import F, Q, Sum

from inventory.models import IncomingStock, Location, StockLevel

from .models import ReorderPolicy, SalesForecast


@dataclass
class ReorderLine:
    product_id: int
    sku: str
    name: str
    ean: str
    location_code: str
    location_name: str
    method: str
    mape: float | None
    on_hand: int
    reserved: int
    incoming: int
    daily_demand: float
    lead_time_days: int
    review_days: int
    lead_time_demand: float
    safety_stock: float
    reorder_point: int
    order_up_to: int
    suggested: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def position(self) -> int:
        return self.available + self.incoming

    @property
    def days_of_cover(self) -> float | None:
        if self.daily_demand <= 0:
            return None
        return max(self.available, 0) / self.daily_demand


def z_score(service_level: float) -> float:
    """The normal quantile for a cycle service level (0.95 → 1.645)."""
    if not 0.5 <= service_level < 1:
        raise ValueError("service level must be in [0.5, 1)")
    return NormalDist().inv_cdf(service_level)


def demand_over(daily: list[float], days: int) -> float:
    """Units forecast over the next ``days`` (the horizon's mean past its end)."""
    if days <= len(daily):
        return float(sum(daily[:days]))
    mean = sum(daily) / len(daily) if daily else 0.0
    return float(sum(daily)) + mean * (days - len(daily))


def lead_times() -> dict[int, tuple[int, int]]:
    """location id → (lead time days, review days): the location's policy or the kind's default."""
    defaults = settings.REORDER_LEAD_TIME_DAYS
    result = {
        pk: (defaults.get(kind, defaults.get("warehouse", 7)), settings.REORDER_REVIEW_DAYS)
        for pk, kind in Location.objects.values_list("pk", "kind")
    }
    for policy in ReorderPolicy.objects.all():
        result[policy.location_id] = (policy.lead_time_days, policy.review_days)
    return result


def reorder_line(
    *,
    forecast: SalesForecast,
    share: float,
    sigma: float,
    location: Location,
    on_hand: int,
    reserved: int,
    incoming: int,
    lead_time_days: int,
    review_days: int,
    z: float,
) -> ReorderLine:
    daily = forecast.daily or []
    mean_daily = (sum(daily) / len(daily) if daily else 0.0) * share
    lead_demand = demand_over(daily, lead_time_days) * share
    safety = z * sigma * math.sqrt(lead_time_days)
    reorder_point = math.ceil(round(lead_demand + safety, 6))
    order_up_to = math.ceil(round(lead_demand + safety + mean_daily * review_days, 6))
    position = on_hand - reserved + incoming
    suggested = max(order_up_to - position, 0) if mean_daily > 0 and position <= reorder_point else 0
    product = forecast.product
    return ReorderLine(
        product_id=product.pk,
        sku=product.sku,
        name=product.name,
        ean=product.ean or "",
        location_code=location.code,
        location_name=location.name,
        method=forecast.method,
        mape=forecast.mape,
        on_hand=on_hand,
        reserved=reserved,
        incoming=incoming,
        daily_demand=mean_daily,
        lead_time_days=lead_time_days,
        review_days=review_days,
        lead_time_demand=lead_demand,
        safety_stock=safety,
        reorder_point=reorder_point,
        order_up_to=order_up_to,
        suggested=suggested,
    )


def reorder_suggestions(
    *,
    service_level: float | None = None,
    location: Location | None = None,
    only_reorder: bool = True,
    q: str = "",
    product_ids=None,
) -> list[ReorderLine]:
    """Suggestions for every (SKU, location) with forecast demand, those to reorder first (least cover
    first). ``only_reorder`` keeps the lines with a suggested quantity."""
    z = z_score(service_level if service_level is not None else settings.REORDER_SERVICE_LEVEL)
    forecasts = SalesForecast.objects.select_related("product").exclude(method=SalesForecast.Method.NO_SALES)
    if q:
        forecasts = forecasts.filter(Q(product__sku__icontains=q) | Q(product__name__icontains=q))
    if product_ids is not None:
        forecasts = forecasts.filter(product_id__in=product_ids)
    forecasts = list(forecasts)
    ids = [f.product_id for f in forecasts]
    locations = {loc.pk: loc for loc in Location.objects.filter(active=True)}
    if location is not None:
        locations = {pk: loc for pk, loc in locations.items() if pk == location.pk}
    stock = {
        (row["product_id"], row["location_id"]): (row["on_hand"], row["reserved"])
        for row in StockLevel.objects.filter(product_id__in=ids, location_id__in=locations).values(
            "product_id", "location_id", "on_hand", "reserved"
        )
    }
    incoming = {
        (row["product_id"], row["location_id"]): int(row["units"] or 0)
        for row in IncomingStock.objects.filter(
            product_id__in=ids, location_id__in=locations, status=IncomingStock.Status.OPEN
        )
        .values("product_id", "location_id")
        .annotate(units=Sum(F("quantity") - F("reserved")))
    }
    times = lead_times()
    lines = []
    for forecast in forecasts:
        for location_id, stats in (forecast.locations or {}).items():
            loc = locations.get(int(location_id))
            share = float(stats.get("share") or 0)
            if loc is None or share <= 0:
                continue
            on_hand, reserved = stock.get((forecast.product_id, loc.pk), (0, 0))
            lead, review = times.get(loc.pk, (settings.REORDER_LEAD_TIME_DAYS["warehouse"], 7))
            line = reorder_line(
                forecast=forecast,
                share=share,
                sigma=float(stats.get("sigma") or 0),
                location=loc,
                on_hand=on_hand,
                reserved=reserved,
                incoming=max(incoming.get((forecast.product_id, loc.pk), 0), 0),
                lead_time_days=lead,
                review_days=review,
                z=z,
            )
            if line.daily_demand <= 0 or (only_reorder and line.suggested <= 0):
                continue
            lines.append(line)
    # To order first; among them the least covered, then the fastest sellers.
    lines.sort(
        key=lambda line: (
            line.suggested <= 0,
            line.days_of_cover or 0,
            -line.daily_demand,
            line.sku,
            line.location_code,
        )
    )
    return lines
