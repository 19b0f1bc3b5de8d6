"""The stock list (/stock/) and a product's stock page (/stock/<sku>/)."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory import services
from inventory.models import StockMovement
from oms.roles import CUSTOMER_SERVICE, MANAGER, ROLE_NAMES
from tests.inventory.factories import ProductFactory


def _rows(response):
    return {p.sku: p for p in response.context["page"].object_list}


def test_totals_cover_only_the_users_locations(client, stocked, warehouse_user, manager):
    # given a product with stock at lyon (10, 2 reserved), paris (4) and lille (7), and 6 on their way to lyon
    services.incoming_create(
        product=stocked,
        location=stocked.stock_levels.get(location__code="lyon").location,
        quantity=6,
        expected_on=date(2030, 1, 1),
    )
    # when warehouse staff (lyon only) and a manager (everything) open the list
    client.force_login(warehouse_user)
    mine = _rows(client.get(reverse("inventory:product_list")))["TSHIRT-M"]
    client.force_login(manager)
    everything = _rows(client.get(reverse("inventory:product_list")))["TSHIRT-M"]
    # then each sees the totals of their locations
    assert (mine.total_on_hand, mine.total_reserved, mine.total_available, mine.total_incoming) == (
        10,
        2,
        8,
        6,
    )
    assert (everything.total_on_hand, everything.total_reserved, everything.total_available) == (21, 2, 19)
    assert everything.total_incoming == 6


def test_location_filter_narrows_the_totals(client, stocked, manager):
    client.force_login(manager)
    response = client.get(reverse("inventory:product_list"), {"location": "paris"})
    row = _rows(response)["TSHIRT-M"]
    assert (row.total_on_hand, row.total_reserved, row.total_available) == (4, 0, 4)


def test_a_location_that_is_not_yours_does_not_widen_the_totals(client, stocked, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(reverse("inventory:product_list"), {"location": "lille"})
    assert response.status_code == 200
    assert _rows(response)["TSHIRT-M"].total_on_hand == 10  # invalid choice ignored: lyon only


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "tshirt"}, {"TSHIRT-M"}),
        ({"q": "bleu"}, {"TSHIRT-M"}),
        ({"q": "3760000000017"}, {"TSHIRT-M"}),
        ({"q": "MUG"}, {"MUG-01"}),
        ({"active": "no"}, {"OLD-01"}),
        ({"active": "yes"}, {"TSHIRT-M", "MUG-01"}),
        ({"stock": "available"}, {"TSHIRT-M"}),
        ({"stock": "out"}, {"MUG-01", "OLD-01"}),
        ({}, {"TSHIRT-M", "MUG-01", "OLD-01"}),
    ],
)
def test_search_and_filters(client, stocked, manager, query, expected):
    ProductFactory(sku="MUG-01", name="Mug")
    ProductFactory(sku="OLD-01", name="Ancien modèle", active=False)
    client.force_login(manager)
    response = client.get(reverse("inventory:product_list"), query)
    assert set(_rows(response)) == expected


def test_sorting_by_available_then_sku(client, stocked, manager):
    ProductFactory(sku="B-ZERO")
    ProductFactory(sku="A-ZERO")
    client.force_login(manager)
    response = client.get(reverse("inventory:product_list"), {"ordering": "-available"})
    assert [p.sku for p in response.context["page"].object_list] == ["TSHIRT-M", "A-ZERO", "B-ZERO"]


def test_pagination_by_fifty(client, manager):
    ProductFactory.create_batch(51)
    client.force_login(manager)
    first = client.get(reverse("inventory:product_list"))
    second = client.get(reverse("inventory:product_list"), {"page": 2})
    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 1
    assert first.context["page"].paginator.count == 51


def test_htmx_filter_returns_only_the_results(client, stocked, manager):
    client.force_login(manager)
    response = client.get(
        reverse("inventory:product_list"),
        {"q": "TSHIRT"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="product-results",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="product-results"')
    assert "<html" not in html
    assert reverse("inventory:product_stock", args=["TSHIRT-M"]) in html


@pytest.mark.parametrize("size", [3, 50])
def test_product_list_query_count_is_fixed(
    client, warehouse, warehouse_user, django_assert_max_num_queries, size
):
    for product in ProductFactory.create_batch(size):
        services.stock_receive(product=product, location=warehouse, quantity=3)
    client.force_login(warehouse_user)
    # session, user, permissions (2), groups of the nav, location scope (2 per use: filter bar and totals),
    # the filter bar's locations, count, page: the same for 3 or 50 products
    with django_assert_max_num_queries(11):
        response = client.get(reverse("inventory:product_list"), {"q": "SKU"})
    assert len(response.context["page"].object_list) == size


# --- the product's stock page --------------------------------------------------------------------


def test_product_page_shows_the_users_locations_and_ledger(client, stocked, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(reverse("inventory:product_stock", args=["TSHIRT-M"]))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.location.code, r.on_hand, r.reserved, r.available) for r in rows] == [("lyon", 10, 2, 8)]
    ledger = response.context["ledger"].object_list
    assert [(m.location.code, m.delta, m.on_hand_after) for m in ledger] == [("lyon", 10, 10)]
    html = response.content.decode()
    assert "24,90\u00a0€" in html or "€24.90" in html


def test_product_page_lists_locations_without_stock_as_zero(client, product, manager):
    client.force_login(manager)
    response = client.get(reverse("inventory:product_stock", args=["TSHIRT-M"]))
    assert {(r.location.code, r.on_hand) for r in response.context["rows"]} == {("lyon", 0), ("paris", 0)}


def test_product_page_404_for_an_unknown_sku(client, manager):
    client.force_login(manager)
    assert client.get(reverse("inventory:product_stock", args=["NOPE"])).status_code == 404


def test_a_sku_with_a_slash_has_its_page(client, manager):
    ProductFactory(sku="CABLE/2M")
    client.force_login(manager)
    url = reverse("inventory:product_stock", args=["CABLE/2M"])
    assert url == "/stock/CABLE/2M/"
    assert client.get(url).context["product"].sku == "CABLE/2M"


def test_product_page_shows_incoming_with_receive_action_only_where_allowed(
    client, stocked, warehouse, store, role_users
):
    to_lyon = services.incoming_create(
        product=stocked, location=warehouse, quantity=6, expected_on=date(2030, 1, 2)
    )
    services.incoming_reserve(incoming_id=to_lyon.pk, quantity=2)
    to_paris = services.incoming_create(
        product=stocked, location=store, quantity=3, expected_on=date(2030, 1, 3)
    )
    receive_lyon = reverse("inventory:incoming_receive", args=[to_lyon.pk])
    receive_paris = reverse("inventory:incoming_receive", args=[to_paris.pk])
    url = reverse("inventory:product_stock", args=["TSHIRT-M"])

    client.force_login(role_users[MANAGER])
    response = client.get(url)
    assert [(i.pk, i.quantity, i.reserved) for i in response.context["incoming"]] == [
        (to_lyon.pk, 6, 2),
        (to_paris.pk, 3, 0),
    ]
    assert receive_lyon in response.content.decode() and receive_paris in response.content.decode()

    client.force_login(role_users[CUSTOMER_SERVICE])  # sees every location, may not receive
    html = client.get(url).content.decode()
    assert receive_lyon not in html and receive_paris not in html


def test_ledger_filters_and_order(client, stocked, warehouse, manager):
    services.stock_adjust(
        product=stocked, location=warehouse, delta=-1, reason_code="damaged", note="dropped"
    )
    client.force_login(manager)
    url = reverse("inventory:product_stock", args=["TSHIRT-M"])

    everything = client.get(url).context["ledger"].object_list
    assert [(m.location.code, m.delta, m.reason) for m in everything] == [
        ("lyon", -1, "adjustment"),
        ("lille", 7, "receipt"),
        ("paris", 4, "receipt"),
        ("lyon", 10, "receipt"),
    ]
    at_lyon = client.get(url, {"location": "lyon"}).context["ledger"].object_list
    assert [m.delta for m in at_lyon] == [-1, 10]
    adjustments = client.get(url, {"reason": "adjustment"}).context["ledger"].object_list
    assert [(m.delta, m.reason_code, m.on_hand_after) for m in adjustments] == [(-1, "damaged", 9)]
    # The filter reads dates in the merchant's time zone (after 23:00 UTC, Paris is already tomorrow).
    today = timezone.localdate(stocked.movements.first().created_at).isoformat()
    assert len(client.get(url, {"date_from": today, "date_to": today}).context["ledger"].object_list) == 4
    assert len(client.get(url, {"date_to": "2000-01-01"}).context["ledger"].object_list) == 0


def test_ledger_is_scoped_to_the_users_locations(client, stocked, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(reverse("inventory:product_stock", args=["TSHIRT-M"]), {"location": "lille"})
    assert {m.location.code for m in response.context["ledger"].object_list} == {"lyon"}


def test_ledger_htmx_returns_the_ledger_only(client, stocked, manager):
    client.force_login(manager)
    response = client.get(
        reverse("inventory:product_stock", args=["TSHIRT-M"]),
        {"reason": "receipt"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="ledger",
    )
    assert response.content.decode().lstrip().startswith('<section id="ledger"')


@pytest.mark.parametrize("size", [1, 30])
def test_product_page_query_count_is_fixed(
    client, warehouse, product, manager, django_assert_max_num_queries, size
):
    for _ in range(size):
        services.stock_receive(product=product, location=warehouse, quantity=1)
    client.force_login(manager)
    # auth and navigation, location scope for each section, stock levels, incoming, ledger filter, count, page
    with django_assert_max_num_queries(16):
        response = client.get(reverse("inventory:product_stock", args=["TSHIRT-M"]))
    assert len(response.context["ledger"].object_list) == size
    assert StockMovement.objects.count() == size


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_stock_pages_render_with_data_for_every_role(
    client, stocked, warehouse, other_warehouse, role_users, role
):
    services.stock_transfer(
        product=stocked,
        from_location=other_warehouse,
        to_location=warehouse,
        quantity=2,
        expected_on=date(2030, 1, 1),
    )
    client.force_login(role_users[role])
    for url in (
        reverse("inventory:product_list"),
        reverse("inventory:product_stock", args=["TSHIRT-M"]),
        reverse("inventory:transfer_list"),
    ):
        assert client.get(url).status_code == 200, url
