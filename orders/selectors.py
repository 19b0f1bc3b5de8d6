"""Read queries of the orders app."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Lower

from customers.models import Customer
from inventory.models import Allocation, Location, Product, StockLevel
from inventory.selectors import user_sees_all_locations
from shipping.models import Shipment

from .models import ApiKey, Channel, ChannelLocation, Order, OrderLine, OrderLocation
from .timeline import order_timeline


def order_detail_queryset(*, timeline: bool = True):
    """An order with everything its detail page and API answer show, in a fixed number of queries
    (6 with the parcels, their lines and tracking events; 3 without, as in the answer to a creation). The
    timeline is one more query, by ``with_timeline`` once the order is found."""
    queryset = Order.objects.select_related("channel", "customer", "pickup_location").prefetch_related(
        Prefetch(
            "lines",
            queryset=OrderLine.objects.order_by("line_no").prefetch_related(
                Prefetch(
                    "allocations",
                    queryset=Allocation.objects.select_related("location", "incoming", "product").order_by(
                        "pk"
                    ),
                )
            ),
        )
    )
    if timeline:
        queryset = queryset.prefetch_related(
            Prefetch(
                "shipments",
                queryset=Shipment.objects.select_related("service__carrier", "location")
                .exclude(status=Shipment.Status.CANCELLED)
                .order_by("pk")
                .prefetch_related("lines", "events"),
            ),
        )
    return queryset


def with_timeline(order: Order | None) -> Order | None:
    """Attach ``order.timeline``: its domain events rendered in the active language, newest first."""
    if order is not None:
        order.timeline = order_timeline(order=order)
    return order


def order_get_for_channel(*, channel, number: str, timeline: bool = True) -> Order | None:
    order = order_detail_queryset(timeline=timeline).filter(channel=channel, number=number).first()
    return with_timeline(order) if timeline else order


ORDER_LIST_COUNT_CAP = 1_000


def order_list_count(queryset: QuerySet[Order], *, cap: int = ORDER_LIST_COUNT_CAP) -> tuple[int, bool]:
    """How many orders a list holds, counted up to ``cap``: ``(count, exact)``; ``(cap, False)`` means
    "more than cap". Costs at most ``cap`` matching rows whatever the table's size."""
    counted = queryset.order_by().values("pk")[: cap + 1].count()
    return (counted, True) if counted <= cap else (cap, False)


def order_list_page(queryset: QuerySet[Order], *, after: str = "", size: int = 50) -> tuple[list[Order], str]:
    """One page of a newest-first order queryset after the cursor ``after`` (keyset pagination: the same
    cost on page 1 and page 10,000). Returns the orders and the next page's cursor ("" on the last page).
    A malformed cursor gives the first page."""
    created_at, pk = _parse_cursor(after)
    if created_at is not None:
        queryset = queryset.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(pk__lt=pk)
        )
    rows = list(queryset[: size + 1])
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], f"{int(last.created_at.timestamp() * 1_000_000)}-{last.pk}"


def _parse_cursor(cursor: str) -> tuple[dt.datetime | None, int | None]:
    try:
        micros, pk = (int(part) for part in cursor.split("-", 1))
        created_at = dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None, None
    return created_at.replace(microsecond=micros % 1_000_000), pk


def reservation_differences() -> list[dict]:
    """Stock levels whose ``reserved`` differs from the sum of the stock allocations held on them (there must
    never be one while orders are the only thing that reserves)."""
    held = {
        (row["product_id"], row["location_id"]): row["total"]
        for row in Allocation.objects.filter(kind=Allocation.Kind.STOCK, consumed_at__isnull=True)
        .values("product_id", "location_id")
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


# --- Back office: scope, list, detail ---------------------------------------------------------------

# A search looks the matching orders (number, external id) and customers up first, up to this many ids each;
# past it they stay a condition of the query (a short number prefix, a common name).
SEARCH_MAX_IDS = 500
# A search whose matching customers have at most this many orders reads them all by the customer index and
# sorts them, instead of letting the planner walk the newest orders (see ``_search``).
SEARCH_SORTED_ORDERS = 5000


def order_scope_location_ids(*, user) -> list[int] | None:
    """The locations whose orders a staff user may see, or ``None`` for every order.

    Managers, users working at every location and anyone who may change orders (customer service) see
    every order; warehouse and store staff see the orders with an allocation at, or a pickup at, one of
    their locations. Computed once per user object (once per request)."""
    cached = getattr(user, "_order_scope_location_ids", False)
    if cached is not False:
        return cached
    if user.has_perm("orders.change_order") or user_sees_all_locations(user=user):
        scope = None
    else:
        scope = list(
            Location.objects.filter(active=True, staff__user=user).values_list("pk", flat=True).distinct()
        )
    user._order_scope_location_ids = scope
    return scope


def order_filter_locations(*, user) -> QuerySet[Location]:
    """The locations the list can be filtered by: those of the user's scope."""
    scope = order_scope_location_ids(user=user)
    qs = Location.objects.filter(active=True)
    if scope is not None:
        qs = qs.filter(pk__in=scope)
    return qs.order_by("kind", "name")


def orders_for_user(*, user) -> QuerySet[Order]:
    """Every order the user may see (location scope of DESIGN.md "Roles")."""
    location_ids = order_scope_location_ids(user=user)
    qs = Order.objects.all()
    if location_ids is None:
        return qs
    if not location_ids:
        return qs.none()
    return qs.filter(pk__in=_located(location_ids))


def _located(location_ids, statuses=None):
    """Ids of the orders handled at these locations (the small ``OrderLocation`` table, indexed by location
    and status, so a scoped list stays fast on millions of orders)."""
    rows = OrderLocation.objects.filter(location_id__in=list(location_ids))
    if statuses:
        rows = rows.filter(status__in=list(statuses))
    return rows.values("order_id")


def order_visible_to(*, order: Order, user) -> bool:
    """Scope check of one order already loaded with ``order_detail_queryset`` (no query when the lines and
    allocations are prefetched)."""
    location_ids = order_scope_location_ids(user=user)
    if location_ids is None:
        return True
    allowed = set(location_ids)
    if order.pickup_location_id in allowed:
        return True
    if any(a.location_id in allowed for line in order.lines.all() for a in line.allocations.all()):
        return True
    # Released reservations (a cancelled order) leave no allocation: where it was handled still counts.
    return OrderLocation.objects.filter(order_id=order.pk, location_id__in=allowed).exists()


def order_get_for_user(*, user, number: str) -> Order | None:
    """The order with its lines, allocations and timeline, or None when it does not exist or is out of the
    user's scope (the page answers 404 either way: no hint that it exists elsewhere)."""
    order = order_detail_queryset().filter(number=number).first()
    if order is None or not order_visible_to(order=order, user=user):
        return None
    return with_timeline(order)


def _paris_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _customers_named(words: list[str]) -> QuerySet:
    """The customers whose names each word starts (a first or a last name), as a UNION of every way of
    giving the words to the two names: "philippe fernandez" is the first name starting with "philippe" and
    the last with "fernandez", or the other way round, or one name starting with both. Each branch is a
    range of one name's index with the other name tested in the same entries (customers 0009: each index
    holds both names), read index-only; a branch giving one name two words that cannot both start it is an
    empty range. One word: its first-name range and its last-name range."""
    branches = []
    for choice in itertools.product(("first", "last"), repeat=len(words)):
        # order_by(): the model's ordering (email) would sort each branch and read the heap for it.
        branch = Customer.objects.alias(first=Lower("first_name"), last=Lower("last_name")).order_by()
        for name, word in zip(choice, words, strict=True):
            branch = branch.filter(**{f"{name}__startswith": word})
        branches.append(branch.values("pk"))
    return branches[0].union(*branches[1:]) if len(branches) > 1 else branches[0]


def _search(qs: QuerySet[Order], text: str) -> tuple[QuerySet[Order], bool]:
    """Order number (prefix, case-insensitive input), external id (exact), customer email (prefix,
    case-insensitive) or customer names (each word starts a first or last name).

    The order's own fields and the matching customers are looked up first (two index reads of at most
    ``SEARCH_MAX_IDS + 1`` ids), and each becomes an indexed condition on the orders: ``pk IN (...)``,
    ``customer_id IN (...)``, so that the OR of them is a BitmapOr over a handful of rows (a number or
    external id no longer adds its index scans to a name search's). The customer lookup reads index-only:
    each word is a UNION of a first-name and a last-name index range (an OR of the two is a bitmap over
    the customers' heap), on the covering ``lower(...)`` indexes of migration customers 0008. Past
    ``SEARCH_MAX_IDS`` matching customers a name is tested on the order's own copy of its customer's
    names (PostgreSQL, migration orders 0030), an email prefix by the customer.

    Returns the filtered orders and whether they are few enough to be sorted rather than walked: when the
    matching customers have at most ``SEARCH_SORTED_ORDERS`` orders (one more index read), ``order_list``
    sorts on an expression no index gives. Otherwise the planner, which expects the customers' orders to be
    spread evenly over time, may walk the newest orders filtering on the customer (10 M orders, ~500
    customers "Élodie Roux": ~530,000 rows removed before the page's 50, 277 ms) where reading their ~2,500
    orders by the customer index and sorting them costs a few milliseconds."""
    text = " ".join(text.split())
    if not text:
        return qs, False
    own = Q(number__startswith=text.upper()) | Q(external_id=text)
    own_ids = list(Order.objects.filter(own).order_by().values_list("pk", flat=True)[: SEARCH_MAX_IDS + 1])
    # lower(...) LIKE 'x%' is what the customers' text_pattern_ops indexes answer (istartswith is not).
    if "@" in text:
        customers = (
            Customer.objects.alias(email_lower=Lower("email"))
            .filter(email_lower__startswith=text.lower())
            .order_by()
            .values_list("pk", flat=True)
        )
    else:
        customers = _customers_named(text.lower().split(" ")[:4]).values_list("pk", flat=True)
    customer_ids = list(customers[: SEARCH_MAX_IDS + 1])
    many_customers = len(customer_ids) > SEARCH_MAX_IDS
    if many_customers and "@" not in text and connection.vendor == "postgresql":
        # A common name: tested on the order's own copy of its customer's names (migration orders 0030), so
        # the planner chooses on the orders' statistics alone between walking the newest orders with the
        # test on each row and the prefix ranges of the names' indexes; no join, no set of customers built.
        names = Q()
        for word in text.lower().split(" ")[:4]:
            names &= Q(search_first_name__startswith=word) | Q(search_last_name__startswith=word)
        mine = own if len(own_ids) > SEARCH_MAX_IDS else Q(pk__in=own_ids)
        return qs.filter(mine | names if own_ids else names), False
    if many_customers:
        # Each order's customer tested by a correlated EXISTS inside the OR, which keeps the page a walk of
        # the newest orders (SQLite, and an email prefix matching that many customers). A plain semi-join
        # (tried 2026-12-04) made the capped count start from the customers but the page applied it to the
        # select_related join of the customers: a seq scan of them all, 6 s at 6 M orders (bench/README.md).
        if "@" in text:
            tested = Customer.objects.alias(email_lower=Lower("email")).filter(
                email_lower__startswith=text.lower()
            )
        else:
            tested = Customer.objects.alias(first=Lower("first_name"), last=Lower("last_name"))
            for word in text.lower().split(" ")[:4]:
                tested = tested.filter(Q(first__startswith=word) | Q(last__startswith=word))
        return qs.filter(own | Q(Exists(tested.filter(pk=OuterRef("customer_id"))))), False
    # A short number prefix stays a condition: the number's index gives its orders.
    condition = own if len(own_ids) > SEARCH_MAX_IDS else Q(pk__in=own_ids)
    few = False
    if customer_ids:
        condition |= Q(customer_id__in=customer_ids)
        if connection.vendor == "postgresql" and len(own_ids) <= SEARCH_MAX_IDS:
            theirs = Order.objects.filter(customer_id__in=customer_ids).order_by().values("pk")
            few = theirs[: SEARCH_SORTED_ORDERS + 1].count() <= SEARCH_SORTED_ORDERS
    return qs.filter(condition), few


SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-total": ("-total_incl_vat", "-id"),
    "total": ("total_incl_vat", "id"),
}


def order_list(*, user, filters: dict | None = None) -> QuerySet[Order]:
    """The orders of the back-office list, in the user's scope, filtered and sorted.

    ``filters`` (all optional): ``status`` (list), ``channel`` (Channel), ``location`` (Location: one of
    the order's allocations is there), ``date_from`` / ``date_to`` (dates, days in Europe/Paris, both
    included), ``delivery_mode``, ``q`` (search text), ``sort`` (a key of ``SORTS``, newest first by
    default). Each row carries ``lines_count``; channel and customer are joined. Sorting always ends on the
    id, so pages are stable and the ``(-created_at, -id)`` and ``(total_incl_vat, id)`` indexes serve."""
    filters = filters or {}
    statuses = list(filters.get("status") or [])
    scope = order_scope_location_ids(user=user)
    qs = Order.objects.all()
    # One location (a store's staff, or the location filter): the orders are read through that location's
    # ``OrderLocation`` rows, joined (one row per order and location) and ordered by their copy of the
    # order's date, so the newest come straight from its (location, [status,] created_at, order) index
    # and a page or a capped count stops early. A semi-join walked every order of the status, or probed
    # each order, and both grew with the data (0.3-0.45 s at 5 M orders).
    joined = None
    if scope is not None:
        if not scope:
            return qs.none()
        if len(scope) == 1:
            joined = scope[0]
        else:
            # The status goes into the location subquery too: it is what makes a rare status fast.
            qs = qs.filter(pk__in=_located(scope, statuses))
    if filters.get("location"):
        if joined is None:
            joined = filters["location"].pk
        else:
            qs = qs.filter(pk__in=_located([filters["location"].pk], statuses))
    if joined is not None:
        at = {"order_locations__location_id": joined}
        if statuses:
            at["order_locations__status__in"] = statuses
        qs = qs.filter(**at)
    elif statuses:
        # Joined to one location, the row's copy of the status is the test (written with the order's in the
        # same transaction, orders.services.lifecycle): testing the order's own too made the planner
        # under-estimate the pair and hash the location's rows of a common status for the capped count
        # (135,000 cancelled orders at one location, 0.4 s at 5 M orders) instead of walking its index.
        qs = qs.filter(status__in=statuses)
    if filters.get("channel"):
        qs = qs.filter(channel=filters["channel"])
    if filters.get("date_from"):
        qs = qs.filter(created_at__gte=_paris_day_start(filters["date_from"]))
    if filters.get("date_to"):
        qs = qs.filter(created_at__lt=_paris_day_start(filters["date_to"] + dt.timedelta(days=1)))
    if filters.get("delivery_mode"):
        qs = qs.filter(delivery_mode=filters["delivery_mode"])
    few = False
    if filters.get("q"):
        qs, few = _search(qs, filters["q"])
    lines_count = (
        OrderLine.objects.filter(order_id=OuterRef("pk"))
        .order_by()
        .values("order_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    ordering = SORTS.get(filters.get("sort") or "-created", SORTS["-created"])
    if joined is not None and ordering[0].lstrip("-") == "created_at":
        # The same order (the row's date is the order's, its order id the order's id), read from the index.
        sign = "-" if ordering[0].startswith("-") else ""
        ordering = (f"{sign}order_locations__created_at", f"{sign}order_locations__order_id")
    if few:
        # COALESCE(x, x) is x, but no index gives it in order: the planner reads the few matching orders by
        # their own indexes and sorts them (``_search``), whatever it expects of the newest orders.
        name = ordering[0].lstrip("-")
        first = Coalesce(F(name), F(name))
        ordering = (first.desc() if ordering[0].startswith("-") else first.asc(), *ordering[1:])
    return (
        qs.select_related("channel", "customer")
        .annotate(lines_count=Coalesce(Subquery(lines_count, output_field=IntegerField()), 0))
        .order_by(*ordering)
    )


def order_table_estimate() -> int | None:
    """The planner's estimate of the number of orders (no scan), or None where there is none."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Order._meta.db_table]
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else None


def products_for_codes(*, codes) -> dict[str, str]:
    """SKU of each code typed on a manual order: a SKU as it is, else an EAN-13 (active products only).
    Codes that match nothing are absent."""
    codes = {c for c in codes if c}
    found: dict[str, str] = {}
    for sku, ean in Product.objects.filter(Q(sku__in=codes) | Q(ean__in=codes), active=True).values_list(
        "sku", "ean"
    ):
        if sku in codes:
            found[sku] = sku
        if ean in codes:
            found.setdefault(ean, sku)
    return found


def stores_for_pickup() -> QuerySet[Location]:
    return Location.objects.filter(kind=Location.Kind.STORE, active=True).order_by("name")


# --- Channels and API keys ----------------------------------------------------------------------------


def _channel_locations_prefetch() -> Prefetch:
    return Prefetch(
        "channel_locations",
        queryset=ChannelLocation.objects.select_related("location").order_by("priority", "location__code"),
    )


def channel_list() -> QuerySet[Channel]:
    """Every channel with its locations in priority order and its count of active API keys."""
    return (
        Channel.objects.prefetch_related(_channel_locations_prefetch())
        .annotate(active_keys=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
        .order_by("code")
    )


def channel_get(*, code: str) -> Channel | None:
    return Channel.objects.prefetch_related(_channel_locations_prefetch()).filter(code=code).first()


def api_key_list(*, channel: Channel) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(channel=channel).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at"
    )


OPEN_STATUSES = ("allocated", "awaiting_stock", "in_preparation")


def late_risk_orders(*, location_ids=None, today=None):
    """Orders whose promise can no longer be met, or soon not: not shipped and past their planned ship
    date, waiting for stock expected after it, or allocated where pickers are planned but no shift had room
    for its lines (capacity overrun). Annotated with ``risk`` (``overdue`` | ``stock_late`` |
    ``no_capacity``) and ``stock_expected_on``; a fixed number of queries."""
    from django.db.models import Case, CharField, Max, OuterRef, Q, Value, When
    from django.utils import timezone

    from fulfillment.models import CapacityBooking, PickerShift

    today = today or timezone.localdate()
    late_stock = Allocation.objects.filter(
        line__order=OuterRef("pk"),
        kind=Allocation.Kind.INCOMING,
        incoming__expected_on__gt=OuterRef("planned_ship_date"),
    )
    booked = CapacityBooking.objects.filter(order=OuterRef("pk"))
    planned = PickerShift.objects.filter(
        location__allocations__line__order=OuterRef("pk"),
        date__gte=OuterRef("created_at__date"),
        date__lte=OuterRef("planned_ship_date"),
    )
    qs = (
        Order.objects.filter(status__in=OPEN_STATUSES, planned_ship_date__isnull=False)
        .annotate(
            stock_late=Exists(late_stock),
            no_capacity=Q(status="allocated") & ~Exists(booked) & Exists(planned),
        )
        .filter(Q(planned_ship_date__lt=today) | Q(stock_late=True) | Q(no_capacity=True))
        .annotate(
            risk=Case(
                When(planned_ship_date__lt=today, then=Value("overdue")),
                When(stock_late=True, then=Value("stock_late")),
                default=Value("no_capacity"),
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
