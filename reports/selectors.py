"""The reports' figures: read-only queries over orders, lines, allocations, timeline events and shipments.

Rules shared by every report:
- a sale is an order line of an order that is not cancelled, dated by the order's creation time in the
  site's time zone (Europe/Paris);
- revenue incl. VAT is unit price × quantity (prices are VAT included); excl. VAT divides each line by
  (1 + its VAT rate); sums are rounded to the cent once, at the end;
- a location's sales are its allocations (units allocated there × the line's unit price).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Min, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncMonth, TruncWeek
from django.utils.translation import gettext_lazy as _

from common.models import DomainEvent
from inventory.models import Allocation, Location, Product
from orders.models import Order, OrderLine, OrderStatus
from returns.models import Return, ReturnLine, ReturnReason
from shipping.models import Shipment, ShipmentStatus

from .forms import Period

CENT = Decimal("0.01")
_MONEY = DecimalField(max_digits=20, decimal_places=6)
TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def _cents(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _line_aggregates(prefix: str = "", quantity: str = "quantity") -> dict:
    """orders, units, revenue incl. and excl. VAT over order lines (``prefix`` = "line__" from
    allocations, whose quantity is the allocation's)."""
    price, vat = F(f"{prefix}unit_price"), F(f"{prefix}vat_rate")
    gross = ExpressionWrapper(price * F(quantity), output_field=_MONEY)
    net = ExpressionWrapper(price * F(quantity) * 100 / (100 + vat), output_field=_MONEY)
    return {
        "orders": Count(f"{prefix}order", distinct=True),
        "units": Coalesce(Sum(quantity), 0),
        "revenue_incl": Sum(gross),
        "revenue_excl": Sum(net),
    }


def _sales_lines(period: Period):
    return OrderLine.objects.filter(
        order__created_at__gte=period.start_at, order__created_at__lt=period.end_before
    ).exclude(order__status=OrderStatus.CANCELLED)


def _finish(row: dict) -> dict:
    row["revenue_incl"] = _cents(row.get("revenue_incl"))
    row["revenue_excl"] = _cents(row.get("revenue_excl"))
    row["units"] = int(row.get("units") or 0)
    row["orders"] = int(row.get("orders") or 0)
    return row


def period_starts(period: Period, grain: str) -> list[dt.date]:
    """The first day of every day / ISO week (Monday) / month that meets the period."""
    if grain == "day":
        return [period.start + dt.timedelta(days=i) for i in range(period.days)]
    if grain == "week":
        first = period.start - dt.timedelta(days=period.start.weekday())
        return [first + dt.timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]
    starts, current = [], period.start.replace(day=1)
    while current <= period.end:
        starts.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return starts


def sales_totals(*, period: Period) -> dict:
    return _finish(_sales_lines(period).aggregate(**_line_aggregates()))


def sales_by_period(*, period: Period, grain: str) -> list[dict]:
    """One row per day / week / month of the period (zeros where nothing sold), oldest first."""
    trunc = TRUNC[grain]("order__created_at", tzinfo=period.tz)
    found = {
        row["bucket"].date() if isinstance(row["bucket"], dt.datetime) else row["bucket"]: _finish(row)
        for row in _sales_lines(period)
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(**_line_aggregates())
        .order_by("bucket")
    }
    rows = []
    for start in period_starts(period, grain):
        row = found.get(start) or _finish({})
        rows.append({"period": start, **{k: v for k, v in row.items() if k != "bucket"}})
    return rows


def sales_by_channel(*, period: Period) -> list[dict]:
    rows = (
        _sales_lines(period)
        .values(channel_code=F("order__channel__code"), channel=F("order__channel__name"))
        .annotate(**_line_aggregates())
        .order_by("-revenue_incl", "channel_code")
    )
    return [_finish(dict(row)) for row in rows]


def sales_by_product(*, period: Period) -> list[dict]:
    rows = (
        _sales_lines(period)
        .values("sku", product_name=F("product__name"))
        .annotate(**_line_aggregates())
        .order_by("-revenue_incl", "sku")
    )
    return [_finish(dict(row)) for row in rows]


def sales_by_location(*, period: Period) -> list[dict]:
    """Sales split by where the units were allocated (stock or a replenishment arriving there). A kit's
    line holds one allocation per component: it counts the whole kits its components make at each location
    (a kit ships whole from one), at the kit's price."""
    allocations = Allocation.objects.filter(
        line__order__created_at__gte=period.start_at, line__order__created_at__lt=period.end_before
    ).exclude(line__order__status=OrderStatus.CANCELLED)
    rows = {
        row["location_code"]: dict(row)
        for row in allocations.filter(product_id=F("line__product_id"))
        .values(location_code=F("location__code"), location_name=F("location__name"))
        .annotate(**_line_aggregates(prefix="line__"))
        .order_by()
    }
    kits: dict[tuple[int, str], dict] = {}
    for row in (
        allocations.exclude(product_id=F("line__product_id"))
        .values(
            "line_id",
            "line__order_id",
            "line__unit_price",
            "line__vat_rate",
            "line__components",
            "product_id",
            location_code=F("location__code"),
            location_name=F("location__name"),
        )
        .annotate(units=Sum("quantity"))
        .order_by()
    ):
        kit = kits.setdefault((row["line_id"], row["location_code"]), {**row, "by_product": {}})
        kit["by_product"][row["product_id"]] = row["units"]
    for kit in kits.values():
        whole = min(
            (
                kit["by_product"].get(p["product_id"], 0) // p["quantity"]
                for p in kit["line__components"] or []
            ),
            default=0,
        )
        if not whole:
            continue
        row = rows.setdefault(
            kit["location_code"],
            {
                "location_code": kit["location_code"],
                "location_name": kit["location_name"],
                "orders": 0,
                "units": 0,
                "revenue_incl": Decimal("0"),
                "revenue_excl": Decimal("0"),
                "_orders": set(),
            },
        )
        gross = kit["line__unit_price"] * whole
        row["units"] = (row["units"] or 0) + whole
        row["revenue_incl"] = Decimal(row["revenue_incl"] or 0) + gross
        row["revenue_excl"] = Decimal(row["revenue_excl"] or 0) + gross * 100 / (100 + kit["line__vat_rate"])
        row.setdefault("_kit_orders", set()).add(kit["line__order_id"])
    result = []
    for row in rows.values():
        # an order counted once per location, whether its kits or its plain lines brought it there
        extra = row.pop("_kit_orders", set())
        row.pop("_orders", None)
        if extra:
            plain = set(
                allocations.filter(product_id=F("line__product_id"), location__code=row["location_code"])
                .values_list("line__order_id", flat=True)
                .distinct()
            )
            row["orders"] = len(plain | extra)
        result.append(_finish(row))
    return sorted(result, key=lambda r: (-r["revenue_incl"], r["location_code"]))


# --- Delivery performance -----------------------------------------------------------------------------


def _days_between(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 86400


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def delivered_orders(*, period: Period) -> list[dict]:
    """Orders delivered during the period (the timeline's move to "delivered"), with their promise:
    ``{"order_id", "created_at", "delivered_at", "promised_latest", "on_time"}`` (on_time is None
    for an order without a promised date)."""
    delivered = (
        DomainEvent.objects.filter(
            code="order.status_changed",
            payload__to=OrderStatus.DELIVERED,
            created_at__gte=period.start_at,
            created_at__lt=period.end_before,
        )
        .values("order_id")
        .annotate(delivered_at=Min("created_at"))
        .order_by("delivered_at")
    )
    delivered = list(delivered)
    orders = {
        o["pk"]: o
        for o in Order.objects.filter(pk__in=[row["order_id"] for row in delivered]).values(
            "pk", "created_at", "promised_latest"
        )
    }
    rows = [
        {
            **row,
            "order__created_at": orders[row["order_id"]]["created_at"],
            "order__promised_latest": orders[row["order_id"]]["promised_latest"],
        }
        for row in delivered
        if row["order_id"] in orders
    ]
    result = []
    for row in rows:
        delivered_day = row["delivered_at"].astimezone(period.tz).date()
        promised = row["order__promised_latest"]
        result.append(
            {
                "order_id": row["order_id"],
                "created_at": row["order__created_at"],
                "delivered_at": row["delivered_at"],
                "promised_latest": promised,
                "on_time": None if promised is None else delivered_day <= promised,
            }
        )
    return result


def _performance(rows: list[dict]) -> dict:
    promised = [r for r in rows if r["on_time"] is not None]
    on_time = sum(1 for r in promised if r["on_time"])
    return {
        "delivered": len(rows),
        "with_promise": len(promised),
        "on_time": on_time,
        "on_time_share": _share(on_time, len(promised)),
        "avg_days": _mean([_days_between(r["created_at"], r["delivered_at"]) for r in rows]),
    }


def delivery_summary(*, period: Period) -> dict:
    """Overall and week by week: orders delivered, share delivered by the promised date, average days
    from order to delivery."""
    rows = delivered_orders(period=period)
    weeks = defaultdict(list)
    for row in rows:
        day = row["delivered_at"].astimezone(period.tz).date()
        weeks[day - dt.timedelta(days=day.weekday())].append(row)
    weekly = [
        {"period": start, **_performance(weeks.get(start, []))} for start in period_starts(period, "week")
    ]
    return {**_performance(rows), "weekly": weekly}


def delivery_by_service(*, period: Period) -> list[dict]:
    """Parcels delivered in the period per carrier and service: share delivered by the order's promised
    date, average days from the order to delivery and from hand-over to delivery (transit)."""
    parcels = (
        Shipment.objects.filter(
            status=ShipmentStatus.DELIVERED,
            delivered_at__gte=period.start_at,
            delivered_at__lt=period.end_before,
        )
        .values(
            "service_id",
            "service__name",
            "service__carrier__name",
            "order__created_at",
            "order__promised_latest",
            "shipped_at",
            "delivered_at",
        )
        .order_by("service__carrier__name", "service__name")
    )
    groups: dict = {}
    for p in parcels:
        key = p["service_id"]
        group = groups.setdefault(
            key,
            {
                "carrier": p["service__carrier__name"] or "",
                "service": p["service__name"] or "",
                "rows": [],
                "transit": [],
            },
        )
        promised = p["order__promised_latest"]
        delivered_day = p["delivered_at"].astimezone(period.tz).date()
        group["rows"].append(
            {
                "created_at": p["order__created_at"],
                "delivered_at": p["delivered_at"],
                "on_time": None if promised is None else delivered_day <= promised,
            }
        )
        if p["shipped_at"]:
            group["transit"].append(_days_between(p["shipped_at"], p["delivered_at"]))
    result = []
    for group in groups.values():
        perf = _performance(group["rows"])
        result.append(
            {
                "carrier": group["carrier"],
                "service": group["service"],
                "parcels": perf["delivered"],
                "on_time_share": perf["on_time_share"],
                "avg_days": perf["avg_days"],
                "avg_transit_days": _mean(group["transit"]),
            }
        )
    return result


# --- Fulfilment ---------------------------------------------------------------------------------------


@dataclass
class LocationWork:
    code: str
    name: str
    picked: int = 0
    pick_hours: int = 0
    parcels: int = 0
    pack_hours: int = 0
    short_picks: int = 0
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)

    @property
    def picked_per_hour(self) -> float | None:
        return self.picked / self.pick_hours if self.pick_hours else None

    @property
    def parcels_per_hour(self) -> float | None:
        return self.parcels / self.pack_hours if self.pack_hours else None

    def as_row(self) -> dict:
        return {
            "location_code": self.code,
            "location_name": self.name,
            "picked": self.picked,
            "pick_hours": self.pick_hours,
            "picked_per_hour": self.picked_per_hour,
            "parcels": self.parcels,
            "pack_hours": self.pack_hours,
            "parcels_per_hour": self.parcels_per_hour,
            "short_picks": self.short_picks,
        }


def fulfilment_by_location(*, period: Period) -> list[LocationWork]:
    """Per location: orders picked (timeline events "picked" with the location that finished), the
    clock hours in which it picked (an hour with at least one pick), orders picked per such hour, parcels
    packed (shipments created there) and per packing hour, short picks; and picks per hour of the day."""
    names = dict(Location.objects.values_list("code", "name"))
    work: dict[str, LocationWork] = {}

    def at(code: str) -> LocationWork:
        code = code or "?"
        return work.setdefault(code, LocationWork(code=code, name=names.get(code, code)))

    picked = (
        DomainEvent.objects.filter(
            code="preparation.picked", created_at__gte=period.start_at, created_at__lt=period.end_before
        )
        .annotate(
            location=KeyTextTransform("location_code", "payload"),
            hour=TruncHour("created_at", tzinfo=period.tz),
        )
        .values("location", "hour")
        .annotate(n=Count("id"))
    )
    for row in picked:
        item = at(row["location"])
        item.picked += row["n"]
        item.pick_hours += 1
        item.by_hour[row["hour"].astimezone(period.tz).hour] += row["n"]
    packed = (
        Shipment.objects.filter(created_at__gte=period.start_at, created_at__lt=period.end_before)
        .annotate(hour=TruncHour("created_at", tzinfo=period.tz))
        .values("location__code", "hour")
        .annotate(n=Count("id"))
    )
    for row in packed:
        item = at(row["location__code"])
        item.parcels += row["n"]
        item.pack_hours += 1
    shorts = (
        DomainEvent.objects.filter(
            code="order.resourced", created_at__gte=period.start_at, created_at__lt=period.end_before
        )
        .annotate(location=KeyTextTransform("location_code", "payload"))
        .values("location")
        .annotate(n=Count("id"))
    )
    for row in shorts:
        at(row["location"]).short_picks += row["n"]
    return sorted(work.values(), key=lambda w: w.code)


def short_picks(*, period: Period) -> list[dict]:
    """Short picks by SKU, location and reason: how often and how many units were missing."""
    events = DomainEvent.objects.filter(
        code="order.resourced", created_at__gte=period.start_at, created_at__lt=period.end_before
    ).values_list("payload", flat=True)
    groups: dict[tuple, dict] = {}
    for data in events:
        key = (str(data.get("sku", "")), str(data.get("location_code", "")), str(data.get("reason", "")))
        group = groups.setdefault(
            key, {"sku": key[0], "location_code": key[1], "reason": key[2], "count": 0, "units": 0}
        )
        group["count"] += 1
        try:
            group["units"] += int(data.get("quantity") or 0)
        except (TypeError, ValueError):
            pass
    # People read names and words, not codes: the product's name, the location's, the reason's.
    names = dict(
        Product.objects.filter(sku__in={g["sku"] for g in groups.values()}).values_list("sku", "name")
    )
    places = dict(
        Location.objects.filter(code__in={g["location_code"] for g in groups.values()}).values_list(
            "code", "name"
        )
    )
    for group in groups.values():
        group["name"] = names.get(group["sku"], group["sku"])
        group["location_name"] = places.get(group["location_code"], group["location_code"])
        group["reason_label"] = str(SHORT_PICK_REASONS.get(group["reason"], group["reason"]))
    return sorted(groups.values(), key=lambda g: (-g["count"], g["sku"], g["location_code"]))


SHORT_PICK_REASONS = {"missing": _("Missing"), "not_found": _("Missing"), "damaged": _("Damaged")}


# --- Returns ------------------------------------------------------------------------------------------


@dataclass
class ReturnsReport:
    """Return rate and reasons for the period. ``recorded`` is False while the system records no
    returns (the page then says returns will appear once recorded)."""

    recorded: bool
    orders: int = 0
    returned_orders: int = 0
    reasons: list[dict] = field(default_factory=list)  # {"reason", "returns", "units"}

    @property
    def rate(self) -> float | None:
        return _share(self.returned_orders, self.orders) if self.recorded else None


def returns_report(*, period: Period) -> ReturnsReport:
    """For the orders placed in the period (cancelled ones aside): how many had a return (rejected returns
    do not count), and the returned lines grouped by reason (returns and units). ``recorded`` is False while
    the system holds no return at all, so the page says so instead of showing a 0 % rate."""
    if not Return.objects.exists():
        return ReturnsReport(recorded=False)
    orders = sales_totals(period=period)["orders"]
    lines = (
        ReturnLine.objects.filter(
            ret__order__created_at__gte=period.start_at, ret__order__created_at__lt=period.end_before
        )
        .exclude(ret__status=Return.Status.REJECTED)
        .exclude(ret__order__status=OrderStatus.CANCELLED)
    )
    returned_orders = lines.values("ret__order_id").distinct().count()
    reasons = {reason.pk: str(reason) for reason in ReturnReason.objects.all()}
    rows = (
        lines.values("reason_id")
        .annotate(returns=Count("ret_id", distinct=True), units=Sum("quantity"))
        .order_by("-units", "reason_id")
    )
    return ReturnsReport(
        recorded=True,
        orders=orders,
        returned_orders=returned_orders,
        reasons=[
            {
                "reason": reasons.get(row["reason_id"], ""),
                "returns": row["returns"],
                "units": int(row["units"] or 0),
            }
            for row in rows
        ],
    )


def has_sales(*, period: Period) -> bool:
    return _sales_lines(period).exists()
