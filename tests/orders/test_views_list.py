"""The order list: filters, search, scope, sorting, pagination and a fixed number of queries."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from orders.models import Order, OrderLocation
from orders.views import CappedPaginator
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, CustomerFactory, OrderFactory

PARIS = ZoneInfo("Europe/Paris")
URL = reverse("orders:order_list")


def _at(order, when):
    # Where the order is handled carries a copy of its date (the location-scoped lists are ordered by it).
    Order.objects.filter(pk=order.pk).update(created_at=when)
    OrderLocation.objects.filter(order_id=order.pk).update(created_at=when)


def numbers(response) -> list[str]:
    assert response.status_code == 200
    return [o.number for o in response.context["orders"]]


@pytest.fixture
def shop(db, warehouse, other_warehouse, store):
    """Five orders across channels, statuses, locations, modes and days."""
    web = ChannelFactory(code="web", name="Web", locations=[warehouse, other_warehouse, store])
    market = ChannelFactory(code="market", name="Marketplace", locations=[other_warehouse])
    tee, mug = ProductFactory(sku="TEE"), ProductFactory(sku="MUG")
    ana = CustomerFactory(email="ana.roux@example.fr", first_name="Ana", last_name="Roux")
    bob = CustomerFactory(email="bob@example.fr", first_name="Bob", last_name="Martin")
    orders = {
        "a": OrderFactory(
            number="CMD-2026-000001",
            external_id="SHOP-1001",
            channel=web,
            customer=ana,
            total_incl_vat=Decimal("10.00"),
            lines=[(tee, 1, warehouse), (mug, 2, warehouse)],
        ),
        "b": OrderFactory(
            number="CMD-2026-000002",
            external_id="SHOP-1002",
            channel=web,
            customer=bob,
            status=Order.Status.AWAITING_STOCK,
            delivery_mode="relay",
            total_incl_vat=Decimal("55.50"),
            lines=[(tee, 1, other_warehouse)],
        ),
        "c": OrderFactory(
            number="CMD-2026-000003",
            external_id="MK-77",
            channel=market,
            customer=ana,
            status=Order.Status.SHIPPED,
            total_incl_vat=Decimal("99.00"),
            lines=[(mug, 1, other_warehouse)],
        ),
        "d": OrderFactory(
            number="CMD-2026-000004",
            external_id="SHOP-1004",
            channel=web,
            customer=bob,
            status=Order.Status.CANCELLED,
            delivery_mode="store",
            pickup_location=store,
            total_incl_vat=Decimal("20.00"),
            lines=[(tee, 1, None)],
        ),
        "e": OrderFactory(
            number="CMD-2026-000005",
            external_id="SHOP-1005",
            channel=web,
            customer=ana,
            delivery_mode="store",
            pickup_location=store,
            total_incl_vat=Decimal("5.00"),
            lines=[(tee, 1, warehouse)],
        ),
    }
    # a: 1 March, b: 2 March, c: 10 March 23:30 UTC (= 11 March in Paris), d: 12 March, e: 13 March
    _at(orders["a"], dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC))
    _at(orders["b"], dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC))
    _at(orders["c"], dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC))
    _at(orders["d"], dt.datetime(2026, 3, 12, 10, tzinfo=dt.UTC))
    _at(orders["e"], dt.datetime(2026, 3, 13, 10, tzinfo=dt.UTC))
    return orders


@pytest.fixture
def manager_client(client, role_users):
    client.force_login(role_users[MANAGER])
    return client


def n(*numbers):
    return [f"CMD-2026-00000{x}" for x in numbers]


def test_newest_first_with_line_counts(manager_client, shop):
    response = manager_client.get(URL)
    assert numbers(response) == n(5, 4, 3, 2, 1)
    counts = {o.number: o.lines_count for o in response.context["orders"]}
    assert counts == {n(1)[0]: 2, n(2)[0]: 1, n(3)[0]: 1, n(4)[0]: 1, n(5)[0]: 1}
    assert response.context["paginator"].count == 5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": ["allocated"]}, n(5, 1)),
        ({"status": ["allocated", "shipped"]}, n(5, 3, 1)),
        ({"channel": "market"}, n(3)),
        ({"location": "lyon"}, n(5, 1)),
        ({"location": "lille"}, n(3, 2)),
        (
            {"location": "paris"},
            n(5, 4),
        ),  # handled there: pickups (d's reservation is released, still listed)
        ({"delivery_mode": "store"}, n(5, 4)),
        ({"delivery_mode": "relay"}, n(2)),
        ({"date_from": "2026-03-02", "date_to": "2026-03-12"}, n(4, 3, 2)),
        ({"date_to": "2026-03-10"}, n(2, 1)),  # c is on 11 March in Paris
        ({"date_from": "2026-03-11", "date_to": "2026-03-11"}, n(3)),
        ({"channel": "web", "status": ["allocated"], "location": "lyon"}, n(5, 1)),
    ],
)
def test_filters(manager_client, shop, query, expected):
    assert numbers(manager_client.get(URL, query)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CMD-2026-000003", n(3)),
        ("cmd-2026-00000", n(5, 4, 3, 2, 1)),  # a number prefix, typed in lower case
        ("SHOP-1002", n(2)),  # external id
        ("MK-77", n(3)),
        ("ANA.ROUX@example.FR", n(5, 3, 1)),  # email, any case
        ("bob@example.fr", n(4, 2)),
        ("Martin", n(4, 2)),  # last name
        ("ana", n(5, 3, 1)),  # first name, start of it, any case
        ("Ana Roux", n(5, 3, 1)),  # both names
        ("Ana Martin", []),
        ("nobody@example.fr", []),
        ("  ", n(5, 4, 3, 2, 1)),
    ],
)
def test_search(manager_client, shop, text, expected):
    assert numbers(manager_client.get(URL, {"q": text})) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ANA.ROUX@example.FR", n(5, 3, 1)),
        ("ana.r", []),  # an email prefix without "@" is a name search
        ("Martin", n(4, 2)),
        ("ana", n(5, 3, 1)),
        ("Ana Roux", n(5, 3, 1)),
        ("Ana Martin", []),
        ("SHOP-1002", n(2)),
    ],
)
def test_search_matching_many_customers_gives_the_same_orders(
    manager_client, shop, monkeypatch, text, expected
):
    # Past SEARCH_MAX_IDS matching customers (or orders), they are a condition of the query itself
    monkeypatch.setattr("orders.selectors.SEARCH_MAX_IDS", 0)
    assert numbers(manager_client.get(URL, {"q": text})) == expected
    assert numbers(manager_client.get(URL, {"q": text, "sort": "created"})) == expected[::-1]


@pytest.mark.postgres
def test_a_renamed_customer_is_found_by_the_new_name_on_every_order(manager_client, shop, monkeypatch):
    # The orders' copy of their customer's names (PostgreSQL triggers, orders 0030) follows the customer
    monkeypatch.setattr("orders.selectors.SEARCH_MAX_IDS", 0)
    customer = shop["a"].customer
    customer.first_name = "Zoé"
    customer.save()
    assert numbers(manager_client.get(URL, {"q": "zoé"})) == n(5, 3, 1)
    assert numbers(manager_client.get(URL, {"q": "ana"})) == []
    assert numbers(manager_client.get(URL, {"q": "Zoé Roux"})) == n(5, 3, 1)
    # and an order written later for them carries the names too
    later = OrderFactory(channel=shop["a"].channel, customer=customer)
    assert Order.objects.filter(pk=later.pk, search_first_name="zoé", search_last_name="roux").exists()


@pytest.mark.parametrize("max_ids", [500, 0])
def test_search_matching_an_external_id_and_customers_gives_both(
    manager_client, shop, monkeypatch, max_ids, warehouse
):
    # The order's own match and the customers' are one OR (an external id that is also a last name)
    monkeypatch.setattr("orders.selectors.SEARCH_MAX_IDS", max_ids)
    tee = ProductFactory(sku="TEE2")
    other = OrderFactory(
        number="CMD-2026-000006",
        external_id="Martin",
        channel=shop["a"].channel,
        customer=shop["a"].customer,
        lines=[(tee, 1, warehouse)],
    )
    _at(other, dt.datetime(2026, 3, 14, 10, tzinfo=dt.UTC))
    assert numbers(manager_client.get(URL, {"q": "Martin"})) == n(6, 4, 2)
    assert numbers(manager_client.get(URL, {"q": "Martin", "status": ["allocated"]})) == n(6)


@pytest.mark.parametrize(
    ("role", "query", "expected"),
    [
        (WAREHOUSE_STAFF, {}, n(5, 1)),
        (WAREHOUSE_STAFF, {"sort": "created"}, n(1, 5)),
        (WAREHOUSE_STAFF, {"status": ["allocated"], "sort": "-total"}, n(1, 5)),
        (WAREHOUSE_STAFF, {"status": ["cancelled"]}, []),
        (STORE_STAFF, {"status": ["cancelled", "allocated"]}, n(5, 4)),
        (STORE_STAFF, {"q": "ana"}, n(5)),
        (MANAGER, {"location": "lille", "sort": "created"}, n(2, 3)),
        (MANAGER, {"location": "paris", "status": ["cancelled"]}, n(4)),
    ],
)
def test_one_location_lists_in_every_order(client, role_users, shop, role, query, expected):
    # One location's orders are read through its OrderLocation rows: one row per order, in the list's order
    client.force_login(role_users[role])
    response = client.get(URL, query)
    assert numbers(response) == expected
    assert response.context["paginator"].count == len(expected)


def test_search_combines_with_filters(manager_client, shop):
    assert numbers(manager_client.get(URL, {"q": "ana", "status": "shipped"})) == n(3)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-created", n(5, 4, 3, 2, 1)),
        ("created", n(1, 2, 3, 4, 5)),
        ("-total", n(3, 2, 4, 1, 5)),
        ("total", n(5, 1, 4, 2, 3)),
    ],
)
def test_sorting(manager_client, shop, sort, expected):
    assert numbers(manager_client.get(URL, {"sort": sort})) == expected


def test_invalid_filters_are_reported_and_the_others_still_apply(manager_client, shop):
    response = manager_client.get(
        URL, {"channel": "nope", "status": ["allocated", "bogus"], "date_from": "x"}
    )
    assert numbers(response) == n(5, 4, 3, 2, 1)
    assert set(response.context["form"].errors) == {"channel", "status", "date_from"}
    response = manager_client.get(URL, {"channel": "nope", "delivery_mode": "relay", "sort": "total"})
    assert numbers(response) == n(2)


def test_dates_in_the_wrong_order_are_refused(manager_client, shop):
    response = manager_client.get(URL, {"date_from": "2026-03-12", "date_to": "2026-03-01"})
    assert "date_to" in response.context["form"].errors
    assert numbers(response) == n(4, 5)[::-1]  # only date_from applies


def test_empty_state(manager_client, shop):
    response = manager_client.get(URL, {"q": "no-such-order"})
    assert numbers(response) == []
    assert b'class="empty-state"' in response.content
    assert response.context["form"].active_count == 1


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (WAREHOUSE_STAFF, n(5, 1)),  # allocations at lyon
        (STORE_STAFF, n(5, 4)),  # pickups at paris
        (CUSTOMER_SERVICE, n(5, 4, 3, 2, 1)),
        (MANAGER, n(5, 4, 3, 2, 1)),
    ],
)
def test_scope_by_role(client, role_users, shop, role, expected):
    client.force_login(role_users[role])
    assert numbers(client.get(URL)) == expected


def test_staff_location_filter_offers_only_their_locations(client, role_users, shop):
    client.force_login(role_users[WAREHOUSE_STAFF])
    response = client.get(URL, {"location": "lille"})  # not theirs: refused, ignored
    assert "location" in response.context["form"].errors
    assert numbers(response) == n(5, 1)
    assert [loc.code for loc in response.context["form"].fields["location"].queryset] == ["lyon"]


def test_staff_without_location_sees_nothing(client, shop, db):
    from tests.oms.factories import UserFactory

    user = UserFactory(username="lost", role=WAREHOUSE_STAFF, locations=[])
    client.force_login(user)
    assert numbers(client.get(URL)) == []


def test_htmx_request_gets_the_results_fragment_only(manager_client, shop):
    response = manager_client.get(
        URL, {"status": "shipped"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="order-results"
    )
    assert numbers(response) == n(3)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="order-results"')
    assert "<html" not in html
    assert 'hx-swap-oob="true"' in html  # the sort field of the filter bar follows


def test_filter_bar_is_an_htmx_get_form_that_pushes_the_url(manager_client, shop):
    html = manager_client.get(URL).content.decode()
    assert 'id="order-filters"' in html
    assert f'hx-get="{URL}"' in html
    assert 'hx-push-url="true"' in html


# --- Pagination and query counts --------------------------------------------------------------------------


@pytest.fixture
def many_orders(db, warehouse, store):
    channel = ChannelFactory(code="web", locations=[warehouse])
    products = [ProductFactory(sku=f"P{i}") for i in range(3)]
    customers = [CustomerFactory() for _ in range(7)]
    for i in range(120):
        OrderFactory(
            channel=channel,
            customer=customers[i % 7],
            delivery_mode="store" if i % 5 == 0 else "home",
            pickup_location=store if i % 5 == 0 else None,
            lines=[(products[k], 1, warehouse) for k in range(1 + i % 3)],
        )


@pytest.mark.parametrize("per_page", [25, 100])
def test_page_sizes(manager_client, many_orders, per_page):
    response = manager_client.get(URL, {"per_page": per_page, "page": 2})
    assert len(response.context["orders"]) == (25 if per_page == 25 else 20)
    assert response.context["paginator"].count == 120
    assert response.context["page"].number == 2


def test_default_page_size_is_50_and_others_are_refused(manager_client, many_orders):
    assert len(manager_client.get(URL).context["orders"]) == 50
    response = manager_client.get(URL, {"per_page": 1000})
    assert len(response.context["orders"]) == 50
    assert "per_page" in response.context["form"].errors


def _queries(client, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("role", [MANAGER, WAREHOUSE_STAFF])
def test_queries_do_not_grow_with_the_page_size(
    client, role_users, many_orders, role, django_assert_max_num_queries
):
    client.force_login(role_users[role])
    counts = {size: _queries(client, {"per_page": size}) for size in (25, 100)}
    assert counts[25] == counts[100]
    for size in (25, 100):
        with django_assert_max_num_queries(12):
            response = client.get(URL, {"per_page": size})
        assert len(response.context["orders"]) == size
    # a location filter adds its lookup, a search the matching orders' and customers' ids, and how many
    # orders those customers have (few: sorted, not walked; orders.selectors._search)
    with django_assert_max_num_queries(16):
        client.get(URL, {"per_page": 100, "q": "Ana", "status": "allocated", "location": "lyon"})


def test_capped_paginator_counts_at_most_the_cap(many_orders):
    paginator = CappedPaginator(Order.objects.order_by("-created_at", "-id"), 25)
    paginator.cap = 100
    assert paginator.count == 101
    assert paginator.capped is True
    assert paginator.num_pages == 4
    assert len(paginator.get_page(99).object_list) == 25  # out of range: the last page we page through
    assert paginator.get_page(99).number == 4


def test_the_count_is_a_bounded_subquery(manager_client, many_orders):
    with CaptureQueriesContext(connection) as ctx:
        manager_client.get(URL)
    counts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(")]
    assert len(counts) == 1
    assert "LIMIT 10001" in counts[0]


@pytest.mark.parametrize(("sort", "expected"), [("-created", n(5, 3, 1)), ("created", n(1, 3, 5))])
def test_a_name_with_few_orders_is_sorted_not_walked(manager_client, shop, sort, expected):
    """The orders of a name's few customers are read by their indexes and sorted on an expression no index
    gives (COALESCE), so the planner cannot walk the newest orders to find them (10 M orders: 277 ms)."""
    with CaptureQueriesContext(connection) as ctx:
        response = manager_client.get(URL, {"q": "Ana Roux", "sort": sort})
    assert numbers(response) == expected
    page = [q["sql"] for q in ctx.captured_queries if '"lines_count"' in q["sql"]]
    assert len(page) == 1
    assert "ORDER BY COALESCE(" in page[0]
    # a number prefix alone keeps the index's order
    with CaptureQueriesContext(connection) as ctx:
        assert numbers(manager_client.get(URL, {"q": "CMD-2026-00000"})) == n(5, 4, 3, 2, 1)
    assert not any("ORDER BY COALESCE(" in q["sql"] for q in ctx.captured_queries)


def test_the_list_is_planned_for_its_filters(manager_client, shop):
    """A status, a channel, a month: selectivities apart by orders of magnitude, so the page and its count
    are never prepared (a generic plan read a whole month for a rare status: common/plans.py)."""
    if settings.DATABASE_PGBOUNCER or not settings.DB_SERVER_SIDE_BINDING:
        pytest.skip("server-side binding is off in this configuration")

    def prepared() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%orders_order%'"
            )
            return {row[0] for row in cursor.fetchall()}

    before = prepared()
    for status in ("delivered", "cancelled", "returned", "delivered", "cancelled", "allocated"):
        assert manager_client.get(URL, {"status": status}).status_code == 200
    assert prepared() == before
