"""Read queries of the orders app."""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from customers.models import Customer
from inventory.models import Location, StockLevel
from inventory.selectors import locations_for_user, user_sees_all_locations

from .models import Allocation, Channel, Order, OrderEvent, OrderLine

ORDER_LIST_COUNT_CAP = 1_000
# A search matching at most this many customers lists their ids in the query, so the planner reads their
# orders by customer_id; above it, the name is common and scanning the newest orders finds a page at once.
SEARCH_CUSTOMERS_LISTED = 2_000
_ORDER_NUMBER = re.compile(r"^CMD-", re.IGNORECASE)
_NAME = re.compile(r"^[^\W\d_][^\d@]*$")  # letters, then anything but digits and @ (spaces, - and ')


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


# --- The order list (back office) ---------------------------------------------------------------------


def order_list(*, user, filters: Mapping | None = None) -> QuerySet[Order]:
    """The orders ``user`` may see, newest first, with channel and customer joined and ``line_count``
    annotated (a subquery run for the rows of the page only). Paginate it with ``order_list_page`` (keyset,
    constant cost at any depth) or slices (OFFSET, slower deep down), and count it with
    ``order_list_count`` (capped: an exact COUNT(*) over a million orders is too slow for a page).

    ``filters`` (a form's cleaned_data or a dict; empty values are ignored):

    - ``status``: a status or a list of statuses;
    - ``channel``: a channel (instance, best, or code);
    - ``location``: a location (instance, best, or code): orders with an allocation there;
    - ``created_from`` / ``created_to``: dates, inclusive, in the site's time zone;
    - ``q``: a search, read by its shape: an order number (``CMD-...``, prefix); an email (contains
      ``@``, prefix, any case); anything with a digit: a channel's external id (prefix); otherwise a
      customer's name (prefix of the first or last name, or "first last", any case).

    Staff limited to some locations see the orders with an allocation at, or a pickup in, one of them.
    Every query of the list can use an index (see the orders and customers search-index migrations).
    """
    filters = filters or {}
    line_count = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(count=Count("pk"))
        .values("count")
    )
    queryset = (
        Order.objects.select_related("channel", "customer")
        .annotate(line_count=Coalesce(Subquery(line_count), 0))
        .order_by("-created_at", "-id")
    )
    if not user.is_authenticated or not user.has_perm("orders.view_order"):
        return queryset.none()
    if not user_sees_all_locations(user=user):
        # Ids as values, not a subquery: the planner then knows how common they are.
        location_ids = list(locations_for_user(user=user).values_list("pk", flat=True))
        # One EXISTS (a line allocated there, or the order picked up there) rather than EXISTS OR pickup:
        # under an OR, PostgreSQL hashes every order allocated there before reading the first page.
        in_scope = OrderLine.objects.filter(order=OuterRef("pk")).filter(
            Q(allocations__location_id__in=location_ids) | Q(order__pickup_location_id__in=location_ids)
        )
        queryset = queryset.filter(Exists(in_scope))

    status = filters.get("status")
    if status:
        queryset = queryset.filter(status__in=[status] if isinstance(status, str) else list(status))
    channel = filters.get("channel")
    if channel:
        queryset = queryset.filter(channel_id=_pk(Channel, channel))
    location = filters.get("location")
    if location:
        at_location = Allocation.objects.filter(
            line__order=OuterRef("pk"), location_id=_pk(Location, location)
        )
        queryset = queryset.filter(Exists(at_location))
    if filters.get("created_from"):
        queryset = queryset.filter(created_at__gte=_day_start(filters["created_from"]))
    if filters.get("created_to"):
        queryset = queryset.filter(created_at__lt=_day_start(filters["created_to"]) + timedelta(days=1))
    q = (filters.get("q") or "").strip()[:100]
    if q:
        queryset = queryset.filter(_search(q))
    return queryset


def _pk(model, value):
    """The id of a channel or location given as an instance (a form's ModelChoiceField: the planner then
    sees the value and its statistics) or by its code (a scalar subquery, no join)."""
    if hasattr(value, "pk"):
        return value.pk
    return Subquery(model.objects.filter(code=value).values("pk")[:1])


def _day_start(day: date | datetime | str) -> datetime:
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if isinstance(day, datetime):
        day = day.date()
    return timezone.make_aware(datetime.combine(day, time.min))


def _search(q: str) -> Q:
    """The condition of a search, chosen by the shape of ``q`` so that one index answers it."""
    if _ORDER_NUMBER.match(q):
        return Q(number__startswith=q.upper())
    if "@" in q:
        customers = Customer.objects.alias(email_lower=Lower("email"))
        return _of_customers(customers.filter(email_lower__startswith=q.lower()))
    if not _NAME.match(q):
        return Q(external_id__startswith=q)
    words = q.lower().split()
    names = Customer.objects.alias(first=Lower("first_name"), last=Lower("last_name"))
    match = Q(last__startswith=" ".join(words))
    if len(words) == 1:
        match |= Q(first__startswith=words[0])
    else:
        match |= Q(first__startswith=words[0], last__startswith=" ".join(words[1:]))
    return _of_customers(names.filter(match))


def _of_customers(customers) -> Q:
    """Orders of the customers found by a search. Few customers: their ids, read first (one indexed query),
    so their orders are fetched by customer_id; many: a subquery, and the newest orders hold a page."""
    ids = list(customers.order_by().values_list("pk", flat=True)[: SEARCH_CUSTOMERS_LISTED + 1])
    if len(ids) <= SEARCH_CUSTOMERS_LISTED:
        return Q(customer_id__in=ids)
    return Q(customer__in=customers.values("pk"))


def order_list_count(queryset: QuerySet[Order], *, cap: int = ORDER_LIST_COUNT_CAP) -> tuple[int, bool]:
    """How many orders the list holds, counted up to ``cap``: ``(count, exact)``; ``(cap, False)`` means
    "more than cap" (show "1,000+"). Costs at most ``cap`` matching rows whatever the table's size."""
    counted = queryset.order_by().values("pk")[: cap + 1].count()
    return (counted, True) if counted <= cap else (cap, False)


def order_list_page(queryset: QuerySet[Order], *, after: str = "", size: int = 50) -> tuple[list[Order], str]:
    """One page of an ``order_list`` queryset after the cursor ``after`` (keyset pagination: the cost is
    the same on page 1 and page 10,000). Returns the orders and the cursor of the next page ("" on the
    last page). A malformed cursor gives the first page."""
    created_at, pk = _parse_cursor(after)
    if created_at is not None:
        # The range condition uses the (created_at, id) index; the OR only sorts out equal timestamps.
        queryset = queryset.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(pk__lt=pk)
        )
    rows = list(queryset[: size + 1])
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], f"{int(last.created_at.timestamp() * 1_000_000)}-{last.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime | None, int | None]:
    try:
        micros, pk = (int(part) for part in cursor.split("-", 1))
        created_at = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None, None
    return created_at.replace(microsecond=micros % 1_000_000), pk


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
