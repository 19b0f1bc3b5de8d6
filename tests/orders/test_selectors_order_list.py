"""``order_list``: scope, filters, search, capped count and keyset pages, in a fixed number of queries."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from customers.models import Customer
from inventory.models import Product
from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from orders.models import Allocation, Channel, Order, OrderLine
from orders.selectors import order_list, order_list_count, order_list_page
from tests.oms.factories import UserFactory

PARIS = ZoneInfo("Europe/Paris")


def at(year, month, day, hour=12, minute=0, microsecond=0):
    return datetime(year, month, day, hour, minute, 0, microsecond, tzinfo=PARIS)


@pytest.fixture
def data(db, warehouse, other_warehouse, store):
    web = Channel.objects.create(code="web", name="Web")
    market = Channel.objects.create(code="market", name="Marketplace")
    ana = Customer.objects.create(email="Ana.Roux@Example.fr", first_name="Ana", last_name="Roux")
    louis = Customer.objects.create(email="louis@example.fr", first_name="Louis", last_name="Le Gall")
    chloe = Customer.objects.create(email="chloe@exemple.com", first_name="Chloé", last_name="Martin")
    mug = Product.objects.create(sku="MUG", name="Mug", price=Decimal("9.50"), vat_rate=Decimal("20.0"))
    tee = Product.objects.create(sku="TEE", name="Tee", price=Decimal("19.90"), vat_rate=Decimal("20.0"))

    def make(number, *, channel, customer, status, created_at, external_id, lines, pickup=None):
        order = Order.objects.create(
            number=number,
            channel=channel,
            external_id=external_id,
            customer=customer,
            status=status,
            delivery_mode="store" if pickup else "home",
            pickup_location=pickup,
        )
        Order.objects.filter(pk=order.pk).update(created_at=created_at)  # test data: a past order
        for line_no, (product, location) in enumerate(lines, start=1):
            line = OrderLine.objects.create(
                order=order,
                line_no=line_no,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=1,
                unit_price=product.price,
                vat_rate=product.vat_rate,
            )
            Allocation.objects.create(line=line, location=location, quantity=1)
        return order

    orders = {
        "o1": make(
            "CMD-2025-000001",
            channel=web,
            customer=ana,
            status="delivered",
            created_at=at(2025, 3, 1),
            external_id="SHOP-1001",
            lines=[(mug, warehouse)],
        ),
        "o2": make(
            "CMD-2025-000002",
            channel=market,
            customer=louis,
            status="cancelled",
            created_at=at(2025, 3, 2),
            external_id="MP-77A",
            lines=[(mug, other_warehouse), (tee, other_warehouse)],
        ),
        "o3": make(
            "CMD-2026-000003",
            channel=web,
            customer=chloe,
            status="allocated",
            created_at=at(2026, 1, 10, 23, 30),
            external_id="SHOP-1002",
            lines=[(mug, store), (tee, warehouse), (tee, other_warehouse)],
            pickup=store,
        ),
        "o4": make(
            "CMD-2026-000004",
            channel=web,
            customer=ana,
            status="allocated",
            created_at=at(2026, 1, 11, 0, 30),
            external_id="SHOP-2001",
            lines=[(tee, other_warehouse)],
        ),
        "o5": make(
            "CMD-2026-000005",
            channel=market,
            customer=louis,
            status="shipped",
            created_at=at(2026, 1, 11, 0, 30),
            external_id="MP-78B",
            lines=[(tee, warehouse)],
        ),
    }
    manager = UserFactory(username="boss", role=MANAGER)
    return {"orders": orders, "manager": manager, "web": web, "store": store, "warehouse": warehouse}


def numbers(queryset):
    return [order.number for order in queryset]


def listed(data, **filters):
    return numbers(order_list(user=data["manager"], filters=filters))


def test_newest_first_with_line_count(data):
    rows = list(order_list(user=data["manager"]))
    assert [(o.number, o.line_count) for o in rows] == [
        ("CMD-2026-000005", 1),
        ("CMD-2026-000004", 1),
        ("CMD-2026-000003", 3),
        ("CMD-2025-000002", 2),
        ("CMD-2025-000001", 1),
    ]
    # the same timestamp: the higher id first, so pages are stable
    assert rows[0].created_at == rows[1].created_at


@pytest.mark.parametrize("extra_orders", [0, 6])
def test_a_page_costs_a_fixed_number_of_queries(data, extra_orders, django_assert_num_queries):
    # given
    o1 = data["orders"]["o1"]
    for i in range(extra_orders):
        Order.objects.create(
            number=f"CMD-2024-{i:06d}",
            channel=o1.channel,
            external_id=f"X-{i}",
            customer=o1.customer,
            delivery_mode="home",
        )
    user = UserFactory(username="cs", role=CUSTOMER_SERVICE, locations=[])
    user.staff_profile.all_locations = True
    user.staff_profile.save()
    user = type(user).objects.get(pk=user.pk)  # a fresh user, as in a request
    # when: permissions (2), scope (2), the customers found by the search, the page, the count
    with django_assert_num_queries(7):
        queryset = order_list(user=user, filters={"q": "ana"})
        rows, _cursor = order_list_page(queryset, size=50)
        count = order_list_count(queryset)
        names = [(o.channel.code, o.customer.email, o.line_count) for o in rows]
    # then
    assert count == (2 + extra_orders, True)
    assert names[-2:] == [("web", "Ana.Roux@Example.fr", 1), ("web", "Ana.Roux@Example.fr", 1)]


def test_scoped_staff_page_costs_a_fixed_number_of_queries(data, django_assert_num_queries):
    user = UserFactory(username="wh2", role=WAREHOUSE_STAFF, locations=[data["warehouse"]])
    user = type(user).objects.get(pk=user.pk)
    # permissions (2), scope: manager? profile, then locations_for_user (manager? again, locations),
    # the page, the count
    with django_assert_num_queries(8):
        queryset = order_list(user=user, filters={"status": "allocated"})
        rows, _cursor = order_list_page(queryset)
        count = order_list_count(queryset)
    assert numbers(rows) == ["CMD-2026-000003"]
    assert count == (1, True)


@pytest.mark.parametrize("q", ["roux", "a", "louis@", "louis le"])
def test_search_gives_the_same_orders_with_many_customers(data, q, monkeypatch):
    # given: the ids of the customers found are listed up to a threshold, else a subquery is used
    listed_ids = listed(data, q=q)
    monkeypatch.setattr("orders.selectors.SEARCH_CUSTOMERS_LISTED", 0)
    # when
    with_subquery = listed(data, q=q)
    # then
    assert with_subquery == listed_ids
    assert listed_ids


def test_filter_status(data):
    assert listed(data, status="allocated") == ["CMD-2026-000004", "CMD-2026-000003"]
    assert listed(data, status=["delivered", "shipped"]) == ["CMD-2026-000005", "CMD-2025-000001"]


def test_filter_channel_by_code_or_instance(data):
    assert listed(data, channel="market") == ["CMD-2026-000005", "CMD-2025-000002"]
    assert listed(data, channel=data["web"]) == ["CMD-2026-000004", "CMD-2026-000003", "CMD-2025-000001"]


def test_filter_location_through_allocations(data):
    assert listed(data, location="lyon") == ["CMD-2026-000005", "CMD-2026-000003", "CMD-2025-000001"]
    assert listed(data, location=data["store"]) == ["CMD-2026-000003"]


def test_filter_dates_inclusive_in_paris_time(data):
    # o3 is at 23:30 on 10 January in Paris (22:30 UTC), o4 and o5 at 00:30 on the 11th (23:30 UTC the 10th)
    assert listed(data, created_from=date(2026, 1, 10), created_to=date(2026, 1, 10)) == ["CMD-2026-000003"]
    assert listed(data, created_from="2026-01-11") == ["CMD-2026-000005", "CMD-2026-000004"]
    assert listed(data, created_to=date(2025, 3, 1)) == ["CMD-2025-000001"]


def test_filters_combine(data):
    assert listed(data, status="allocated", channel="web", location="lille") == [
        "CMD-2026-000004",
        "CMD-2026-000003",
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("CMD-2026-000004", ["CMD-2026-000004"]),  # an order number
        ("cmd-2025", ["CMD-2025-000002", "CMD-2025-000001"]),  # its prefix, any case
        ("ana.roux@example.fr", ["CMD-2026-000004", "CMD-2025-000001"]),  # an email, any case
        ("LOUIS@", ["CMD-2026-000005", "CMD-2025-000002"]),  # an email's prefix
        ("SHOP-1001", ["CMD-2025-000001"]),  # an external id
        ("SHOP-100", ["CMD-2026-000003", "CMD-2025-000001"]),  # its prefix
        ("MP-7", ["CMD-2026-000005", "CMD-2025-000002"]),
        ("roux", ["CMD-2026-000004", "CMD-2025-000001"]),  # a last name
        ("ANA", ["CMD-2026-000004", "CMD-2025-000001"]),  # a first name
        ("le gall", ["CMD-2026-000005", "CMD-2025-000002"]),  # a last name of two words
        ("louis le g", ["CMD-2026-000005", "CMD-2025-000002"]),  # first and last name
        ("chloé mar", ["CMD-2026-000003"]),
        ("  martin ", ["CMD-2026-000003"]),
        ("Roux Ana", []),  # last then first: not a shape we read
        ("nobody", []),
        ("SHOP-9", []),
        ("50%", []),  # LIKE wildcards are literal
    ],
)
def test_search(data, q, expected):
    assert listed(data, q=q) == expected


def test_empty_filters_are_ignored(data):
    assert len(listed(data, status="", channel=None, location="", q="   ", created_from=None)) == 5


def test_warehouse_staff_see_orders_allocated_at_their_locations(data):
    user = UserFactory(username="wh", role=WAREHOUSE_STAFF, locations=[data["warehouse"]])
    assert numbers(order_list(user=user)) == ["CMD-2026-000005", "CMD-2026-000003", "CMD-2025-000001"]
    # a filter narrows the scope, never widens it
    assert numbers(order_list(user=user, filters={"location": "lille"})) == ["CMD-2026-000003"]


def test_store_staff_see_their_pickups(data):
    user = UserFactory(username="st", role=STORE_STAFF, locations=[data["store"]])
    assert numbers(order_list(user=user)) == ["CMD-2026-000003"]


def test_store_staff_see_pickups_sourced_elsewhere(data):
    # given: an order picked up at the store, its only line allocated at a warehouse
    o4 = data["orders"]["o4"]
    Order.objects.filter(pk=o4.pk).update(delivery_mode="store", pickup_location=data["store"])
    user = UserFactory(username="st", role=STORE_STAFF, locations=[data["store"]])
    # when / then
    assert numbers(order_list(user=user)) == ["CMD-2026-000004", "CMD-2026-000003"]


def test_no_permission_no_orders(data):
    assert numbers(order_list(user=UserFactory(username="nobody"))) == []


def test_count_is_capped(data):
    queryset = order_list(user=data["manager"])
    assert order_list_count(queryset) == (5, True)
    assert order_list_count(queryset, cap=5) == (5, True)
    assert order_list_count(queryset, cap=4) == (4, False)
    assert order_list_count(order_list(user=data["manager"], filters={"status": "received"})) == (0, True)


def test_keyset_pages_cover_every_order_once(data):
    # given
    queryset = order_list(user=data["manager"])
    seen, cursor, pages = [], "", 0
    # when
    while True:
        rows, cursor = order_list_page(queryset, after=cursor, size=2)
        seen += numbers(rows)
        pages += 1
        if not cursor:
            break
    # then: o5 and o4 share a timestamp and a page boundary falls between them and o3
    assert pages == 3
    assert seen == numbers(queryset)


def test_keyset_page_boundary_on_equal_timestamps(data):
    queryset = order_list(user=data["manager"])
    rows, cursor = order_list_page(queryset, size=1)
    assert numbers(rows) == ["CMD-2026-000005"]
    rows, cursor = order_list_page(queryset, after=cursor, size=1)
    assert numbers(rows) == ["CMD-2026-000004"]  # same created_at as o5, lower id


def test_malformed_cursor_gives_the_first_page(data):
    queryset = order_list(user=data["manager"])
    for cursor in ("nonsense", "12-ab", "-5-3", "99999999999999999999999-1"):
        rows, _ = order_list_page(queryset, after=cursor, size=2)
        assert numbers(rows) == ["CMD-2026-000005", "CMD-2026-000004"]
