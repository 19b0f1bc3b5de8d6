"""Read queries of the inventory app."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import F, Min, QuerySet, Sum

from .models import IncomingStock, Location, Product, StockLevel, StockMovement

MANAGER_GROUP = "Manager"


def user_sees_all_locations(*, user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if user.groups.filter(name=MANAGER_GROUP).exists():
        return True
    profile = getattr(user, "staff_profile", None)
    return bool(profile and profile.all_locations)


def locations_for_user(*, user) -> QuerySet[Location]:
    """The locations a staff user may see and act on (the role scope of DESIGN.md)."""
    if user_sees_all_locations(user=user):
        return Location.objects.filter(active=True)
    if not user.is_authenticated:
        return Location.objects.none()
    return Location.objects.filter(active=True, staff__user=user).distinct()


def location_list(*, user, kind: str | None = None) -> QuerySet[Location]:
    qs = locations_for_user(user=user)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "code")


@dataclass(frozen=True)
class Availability:
    sku: str
    available: int
    preorderable: int
    next_restock_on: date | None


def availability(
    *, skus: Iterable[str], location_ids: Iterable[int], safety_buffer: int = 0
) -> dict[str, Availability]:
    """Per SKU, over the given locations: ``available`` = sum(on_hand - reserved) - buffer (never below
    zero); ``preorderable`` = free units of open incoming stock; ``next_restock_on`` = the earliest date
    such units arrive. Two queries whatever the number of SKUs. Unknown SKUs are absent from the result."""
    skus = list(dict.fromkeys(skus))
    location_ids = list(location_ids)
    products = dict(Product.objects.filter(sku__in=skus).values_list("pk", "sku"))
    stock = dict(
        StockLevel.objects.filter(product_id__in=products, location_id__in=location_ids)
        .values("product_id")
        .annotate(free=Sum(F("on_hand") - F("reserved")))
        .values_list("product_id", "free")
    )
    incoming = {
        row["product_id"]: row
        for row in IncomingStock.objects.filter(
            product_id__in=products,
            location_id__in=location_ids,
            status=IncomingStock.Status.OPEN,
            quantity__gt=F("reserved"),
        )
        .values("product_id")
        .annotate(free=Sum(F("quantity") - F("reserved")), first=Min("expected_on"))
    }
    result = {}
    for product_id, sku in products.items():
        row = incoming.get(product_id) or {}
        result[sku] = Availability(
            sku=sku,
            available=max(0, (stock.get(product_id) or 0) - safety_buffer),
            preorderable=row.get("free") or 0,
            next_restock_on=row.get("first"),
        )
    return result


def stock_for_product(*, product: Product, location_ids: Iterable[int] | None = None):
    """Every stock level of a product (with its location) and its open incoming stock."""
    levels = StockLevel.objects.filter(product=product).select_related("location").order_by("location__code")
    incoming = (
        IncomingStock.objects.filter(product=product, status=IncomingStock.Status.OPEN)
        .select_related("location", "from_location")
        .order_by("expected_on", "pk")
    )
    if location_ids is not None:
        levels = levels.filter(location_id__in=location_ids)
        incoming = incoming.filter(location_id__in=location_ids)
    return levels, incoming


def movement_list(*, product: Product | None = None, location_ids=None, reason: str | None = None):
    qs = StockMovement.objects.select_related("product", "location", "actor").order_by("-created_at", "-pk")
    if product is not None:
        qs = qs.filter(product=product)
    if location_ids is not None:
        qs = qs.filter(location_id__in=location_ids)
    if reason:
        qs = qs.filter(reason=reason)
    return qs


def ledger_differences() -> list[dict]:
    """Levels whose ``on_hand`` differs from the sum of their movements (there must never be one), and
    levels or incoming stock that break the reservation invariants."""
    sums = {
        (row["product_id"], row["location_id"]): row["total"]
        for row in StockMovement.objects.values("product_id", "location_id").annotate(total=Sum("delta"))
    }
    problems = []
    seen = set()
    for level in StockLevel.objects.select_related("product", "location").iterator(chunk_size=2000):
        key = (level.product_id, level.location_id)
        seen.add(key)
        ledger = sums.get(key, 0)
        if ledger != level.on_hand or not (0 <= level.reserved <= level.on_hand):
            problems.append(
                {
                    "sku": level.product.sku,
                    "location": level.location.code,
                    "on_hand": level.on_hand,
                    "ledger": ledger,
                    "reserved": level.reserved,
                }
            )
    for key, total in sums.items():
        if key not in seen and total != 0:
            problems.append({"product_id": key[0], "location_id": key[1], "on_hand": None, "ledger": total})
    return problems
