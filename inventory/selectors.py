"""Read queries of the inventory app."""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Case, F, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from common import authz
from common.authz import user_role_names

from .models import IncomingStock, KitComponent, Location, Product, StaffProfile, StockLevel, StockMovement

MANAGER_GROUP = "Manager"


@functools.cache
def _active_products_sql() -> tuple[str, list[str], list[tuple]]:
    """The statement (built once per process), the attribute names ``from_db`` takes, and each field's
    converters (what the ORM's compiler applies to a value read)."""
    fields = list(Product._meta.concrete_fields)
    table = connection.ops.quote_name(Product._meta.db_table)
    columns = ", ".join(f"{table}.{connection.ops.quote_name(f.column)}" for f in fields)
    # Only the model's own identifiers are formatted in; the SKUs are one array parameter, so the text is
    # the same whatever their number (one prepared statement, where ``IN (%s, …)`` was one per length).
    sql = f'SELECT {columns} FROM {table} WHERE {table}."sku" = ANY(%s::varchar[]) AND {table}."active"'  # noqa: S608
    converters = []
    for index, f in enumerate(fields):
        col = f.get_col(Product._meta.db_table)
        funcs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if funcs:
            converters.append((index, col, funcs))
    return sql, [f.attname for f in fields], converters


def active_products_by_sku(*, skus: Iterable[str]) -> dict[str, Product]:
    """The active products of these SKUs, by SKU: ``Product.objects.filter(sku__in=skus, active=True)``
    without compiling the query each time (the order intake reads them on every request). Whole model
    instances, as the ORM builds them (``from_db``, the fields' converters)."""
    skus = list(dict.fromkeys(skus))
    if not skus:
        return {}
    if connection.vendor != "postgresql":
        return {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
    sql, attnames, converters = _active_products_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [skus])
        rows = cursor.fetchall()
    products = {}
    for row in rows:
        values = list(row)
        for index, col, funcs in converters:
            for func in funcs:
                values[index] = func(values[index], col, connection)
        product = Product.from_db(connection.alias, attnames, values)
        products[product.sku] = product
    return products


def user_sees_all_locations(*, user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if MANAGER_GROUP in user_role_names(user):  # kept per process (common/authz.py)
        return True
    # the profile's flag kept with the roles (inventory/apps.py drops them when a profile is written)
    return authz.memo.get(
        (user.pk, "all_locations"),
        lambda: bool(
            StaffProfile.objects.filter(user_id=user.pk).values_list("all_locations", flat=True).first()
        ),
    )


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


# --- Kits -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KitPart:
    """``quantity`` units of a component product in each unit of a kit."""

    product_id: int
    sku: str
    name: str
    quantity: int
    weight_g: int = 0

    def as_dict(self) -> dict:
        return {"product_id": self.product_id, "sku": self.sku, "name": self.name, "quantity": self.quantity}


def kit_parts(*, products: Iterable[Product]) -> dict[int, tuple[KitPart, ...]]:
    """The components of the kits among ``products`` (by kit id). No query at all when none is a kit: the
    caller already read the product rows, and ``is_kit`` says whether a line needs its components."""
    kit_ids = [p.pk for p in products if p.is_kit]
    if not kit_ids:
        return {}
    parts: dict[int, list[KitPart]] = {kit_id: [] for kit_id in kit_ids}
    rows = (
        KitComponent.objects.filter(kit_id__in=kit_ids)
        .order_by("kit_id", "component__sku")
        .values_list(
            "kit_id", "component_id", "component__sku", "component__name", "quantity", "component__weight_g"
        )
    )
    for kit_id, product_id, sku, name, quantity, weight_g in rows:
        parts[kit_id].append(KitPart(product_id, sku, name, quantity, weight_g))
    return {kit_id: tuple(items) for kit_id, items in parts.items()}


@dataclass(frozen=True)
class Demand:
    """Units of one product that one order line needs: the product itself, or one component of a kit."""

    line_index: int
    product_id: int
    quantity: int
    per_unit: int = 1  # units of ``product_id`` in one unit of the line


def component_demands(
    *, lines: Iterable[tuple[int, int, int]], parts: dict[int, tuple[KitPart, ...]]
) -> list[Demand]:
    """Turn order lines ``(line index, product id, quantity)`` into what must be reserved and picked: a
    plain product stays one demand, a kit becomes one demand per component (quantity × units per kit)."""
    demands = []
    for index, product_id, quantity in lines:
        components = parts.get(product_id)
        if components is None:
            demands.append(Demand(index, product_id, quantity))
            continue
        for part in components:
            demands.append(Demand(index, part.product_id, quantity * part.quantity, part.quantity))
    return demands


def kit_available(*, parts: tuple[KitPart, ...], free: dict[int, int]) -> int:
    """How many kits the free units of the components (``free`` by component id, at one location) make."""
    if not parts:
        return 0
    return min(max(0, free.get(part.product_id, 0)) // part.quantity for part in parts)


def kit_component_choices(*, exclude: int | None = None) -> list[tuple[str, str]]:
    """(SKU, name) of the products that may be a kit's component: active, not kits themselves."""
    qs = Product.objects.filter(active=True, is_kit=False).order_by("sku")
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return list(qs.values_list("sku", "name"))


def kits_using(*, product_ids: Iterable[int]) -> list[int]:
    """The ids of the kits one of these products is a component of (their availability follows)."""
    ids = list(product_ids)
    if not ids:
        return []
    return sorted(set(KitComponent.objects.filter(component_id__in=ids).values_list("kit_id", flat=True)))


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
    such units arrive. Three queries whatever the number of SKUs. Unknown SKUs are absent from the result.

    A kit's ``available`` is what its components allow, location by location (a kit ships whole from one
    place): the sum over locations of the fewest kits any component makes there. Kits are sold from stock:
    they are not pre-orderable (two more queries when the SKUs include kits)."""
    skus = list(dict.fromkeys(skus))
    location_ids = list(location_ids)
    product_rows = list(Product.objects.filter(sku__in=skus))
    products = {p.pk: p.sku for p in product_rows}
    parts = kit_parts(products=product_rows)
    stock = dict(
        StockLevel.objects.filter(product_id__in=products, location_id__in=location_ids)
        .values("product_id")
        .annotate(free=Sum(F("on_hand") - F("reserved")))
        .values_list("product_id", "free")
    )
    if parts:
        stock.update(_kits_free(parts=parts, location_ids=location_ids))
    incoming = {
        row["product_id"]: row
        for row in IncomingStock.objects.filter(
            product_id__in=[p for p in products if p not in parts],
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


def _kits_free(*, parts: dict[int, tuple[KitPart, ...]], location_ids: list[int]) -> dict[int, int]:
    """Per kit, the kits its components' free units make at each location, summed over the locations."""
    per_location: dict[int, dict[int, int]] = {}
    component_ids = {part.product_id for items in parts.values() for part in items}
    for product_id, location_id, free in StockLevel.objects.filter(
        product_id__in=component_ids, location_id__in=location_ids
    ).values_list("product_id", "location_id", F("on_hand") - F("reserved")):
        per_location.setdefault(location_id, {})[product_id] = free
    return {
        kit_id: sum(kit_available(parts=items, free=free) for free in per_location.values())
        for kit_id, items in parts.items()
    }


def kit_stock_by_location(*, kit: Product, location_ids: Iterable[int] | None = None) -> list[dict]:
    """For a kit's page and the API: per location, how many kits its components' free units make, and the
    component that limits them."""
    parts = kit_parts(products=[kit]).get(kit.pk, ())
    locations = Location.objects.filter(active=True).order_by("kind", "code")
    if location_ids is not None:
        locations = locations.filter(pk__in=list(location_ids))
    locations = list(locations)
    free: dict[tuple[int, int], int] = {
        (p, loc): f
        for p, loc, f in StockLevel.objects.filter(
            product_id__in=[part.product_id for part in parts], location_id__in=[loc.pk for loc in locations]
        ).values_list("product_id", "location_id", F("on_hand") - F("reserved"))
    }
    rows = []
    for location in locations:
        here = {part.product_id: free.get((part.product_id, location.pk), 0) for part in parts}
        available = kit_available(parts=parts, free=here)
        limiting = min(parts, key=lambda part: here[part.product_id] // part.quantity) if parts else None
        rows.append(
            {
                "location": location,
                "available": available,
                "limiting": limiting,
                "components": [(part, here[part.product_id]) for part in parts],
            }
        )
    return rows


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


def incoming_search(
    *, product: Product | None = None, location: Location | None = None, status: str | None = "open"
) -> QuerySet[IncomingStock]:
    """Replenishments on their way (or, with ``status``, received or cancelled ones; None: all), soonest
    expected first, with their product and locations."""
    queryset = IncomingStock.objects.select_related("product", "location", "from_location").order_by(
        "expected_on", "pk"
    )
    if product is not None:
        queryset = queryset.filter(product=product)
    if location is not None:
        queryset = queryset.filter(location=location)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


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


# --- Back-office pages (stock list, product stock, ledger, transfers) ---------------------------------


def code_names(code: str, *, sku: str, ean: str) -> bool:
    """Whether a scanned or typed ``code`` names the product with this SKU and EAN, as ``product_by_code``
    would find it (the SKU whatever its case, the EAN-13 or its 12-digit UPC-A): the floor's screens match a
    scan against the copies their lines keep before reading the catalogue."""
    code = (code or "").strip()
    if not code:
        return False
    if code.upper() == (sku or "").upper():
        return True
    return bool(ean) and code.isdigit() and len(code) in (12, 13) and code.zfill(13) == ean


def product_by_code(*, code: str) -> Product | None:
    """The product a scanner or a person typed: the exact SKU, else the EAN-13 (a 12-digit UPC-A is an
    EAN-13 with a leading zero), else the SKU whatever its case. ``None`` when nothing matches."""
    code = (code or "").strip()
    if not code:
        return None
    if code.isdigit() and len(code) in (12, 13):  # a barcode: the SKU and the EAN in one statement
        found = list(Product.objects.filter(Q(sku=code) | Q(ean=code.zfill(13))).order_by("pk")[:5])
        product = next((p for p in found if p.sku == code), None) or (found[0] if found else None)
    else:
        product = Product.objects.filter(sku=code).first()
    if product is None:
        product = Product.objects.filter(sku__iexact=code).order_by("pk").first()
    return product


def _user_location_ids(*, user, location: Location | None = None):
    """A subquery of the ids of the user's locations (or of ``location`` alone, if it is one of them)."""
    qs = locations_for_user(user=user)
    if location is not None:
        qs = qs.filter(pk=location.pk)
    return qs.values("pk")


def _total(model, expression, *, location_ids, **filters):
    """``SUM(expression)`` of ``model`` rows of the outer product over the given locations, 0 if none."""
    rows = (
        model.objects.filter(product=OuterRef("pk"), location_id__in=location_ids, **filters)
        .order_by()
        .values("product")
        .annotate(total=Sum(expression))
        .values("total")
    )
    return Coalesce(Subquery(rows[:1]), Value(0))


def product_list(*, user, location: Location | None = None) -> QuerySet[Product]:
    """Products with their totals over the user's locations (or one of them): ``total_on_hand``,
    ``total_reserved``, ``total_available`` and ``total_incoming`` (open replenishments still expected).
    One query for a page of products whatever its size (correlated subqueries, no join fan-out)."""
    location_ids = _user_location_ids(user=user, location=location)
    open_incoming = {"status": IncomingStock.Status.OPEN}
    return Product.objects.annotate(
        total_on_hand=_total(StockLevel, F("on_hand"), location_ids=location_ids),
        total_reserved=_total(StockLevel, F("reserved"), location_ids=location_ids),
        total_incoming=_total(IncomingStock, F("quantity"), location_ids=location_ids, **open_incoming),
    ).annotate(total_available=F("total_on_hand") - F("total_reserved"))


@dataclass(frozen=True)
class LocationStock:
    location: Location
    on_hand: int
    reserved: int
    bin_code: str

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def product_stock_by_location(*, user, product: Product) -> list[LocationStock]:
    """One row per location the user may see, with zeros where the product has no stock level yet."""
    locations = list(locations_for_user(user=user).order_by("kind", "code"))
    levels = {
        level.location_id: level
        for level in StockLevel.objects.filter(product=product, location__in=[loc.pk for loc in locations])
    }
    rows = []
    for location in locations:
        level = levels.get(location.pk)
        rows.append(
            LocationStock(
                location=location,
                on_hand=level.on_hand if level else 0,
                reserved=level.reserved if level else 0,
                bin_code=level.bin_code if level else "",
            )
        )
    return rows


def incoming_list(
    *, user, product: Product | None = None, kind: str | None = None, status: str = IncomingStock.Status.OPEN
) -> QuerySet[IncomingStock]:
    """Replenishments the user may see: those coming to one of their locations, and transfers leaving one
    of them. Soonest first."""
    location_ids = _user_location_ids(user=user)
    qs = IncomingStock.objects.filter(
        Q(location_id__in=location_ids) | Q(from_location_id__in=location_ids), status=status
    ).select_related("product", "location", "from_location")
    if product is not None:
        qs = qs.filter(product=product)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("expected_on", "pk")


def incoming_received_recently(*, user, kind: str | None = None, since: date) -> QuerySet[IncomingStock]:
    return (
        incoming_list(user=user, kind=kind, status=IncomingStock.Status.RECEIVED)
        .filter(received_at__date__gte=since)
        .order_by("-received_at", "-pk")
    )


def user_may_act_at(*, user, location_id: int) -> bool:
    """True when the location is one the user may see and act on."""
    return locations_for_user(user=user).filter(pk=location_id).exists()


def ledger_list(*, user, product: Product | None = None) -> QuerySet[StockMovement]:
    """The stock ledger at the user's locations, newest first (filters are applied by the page)."""
    return movement_list(product=product, location_ids=_user_location_ids(user=user))


def receipts_today(*, user, actor, today: date, limit: int = 10) -> tuple[list[StockMovement], int]:
    """The last goods receipts ``actor`` recorded today at the user's locations, and today's unit count."""
    qs = ledger_list(user=user).filter(
        actor=actor, reason=StockMovement.Reason.RECEIPT, created_at__date=today
    )
    return list(qs[:limit]), qs.aggregate(units=Coalesce(Sum("delta"), Value(0)))["units"]


# --- Catalogue ------------------------------------------------------------------------------------------


def catalogue_list() -> QuerySet[Product]:
    """Every product of the catalogue, for the catalogue page (one query a page)."""
    return Product.objects.order_by("sku")


def catalogue_import_list(*, limit: int = 10):
    from .models import ProductImport

    return list(ProductImport.objects.select_related("created_by").order_by("-created_at", "-pk")[:limit])


def product_search(*, query: str, limit: int = 8, active_only: bool = True) -> list[Product]:
    """Products whose SKU, name or EAN matches what a person is typing (phone orders): the exact SKU or EAN
    first, then SKUs starting with it, then names containing every word."""
    query = (query or "").strip()
    if len(query) < 2:
        return []
    qs = Product.objects.all()
    if active_only:
        qs = qs.filter(active=True)
    words = query.split()
    match = Q(sku__istartswith=query) | Q(ean__startswith=query)
    name_match = Q()
    for word in words:
        name_match &= Q(name__icontains=word)
    results = list(
        qs.filter(match | name_match | Q(sku__icontains=query))
        .annotate(
            rank=Case(
                When(Q(sku__iexact=query) | Q(ean=query), then=Value(0)),
                When(sku__istartswith=query, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "sku")[:limit]
    )
    return results
