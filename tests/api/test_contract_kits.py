"""Kits through the API: the product shows its components and what its components allow per location;
availability, orders and the intake's statements."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import eventlog
from inventory import services as inventory_services
from inventory.models import Allocation
from orders.services.intake import order_create
from tests.orders.factories import order_input

from .conftest import db_state, order_body
from .factories import ProductFactory, stock


@pytest.fixture
def duo(shop):
    """DUO = 1 T-shirt + 2 mugs: lyon has 10 T-shirts and 3 mugs (1 kit), lille 5 T-shirts, no mug."""
    kit = ProductFactory(sku="DUO", name="Duo T-shirt et mugs", price="29.00", vat_rate="20.0", ean="")
    inventory_services.kit_set_components(kit=kit, components=[(shop.tshirt, 1), (shop.mug, 2)])
    kit.refresh_from_db()
    return kit


def test_a_kit_shows_its_components_and_what_they_allow_per_location(api, shop, duo):
    response = api.get("/products/DUO/")
    assert response.status_code == 200
    body = response.json()
    assert body["is_kit"] is True
    assert body["components"] == [
        {"sku": "TSHIRT-M", "name": "T-shirt M", "quantity": 1},
        {"sku": "MUG", "name": "Mug", "quantity": 2},
    ]
    assert body["kit_availability"] == [
        {"location": "paris", "available": 0, "limited_by": "MUG"},
        {"location": "lille", "available": 0, "limited_by": "MUG"},
        {"location": "lyon", "available": 1, "limited_by": "MUG"},
    ]
    plain = api.get("/products/MUG/").json()
    assert (plain["is_kit"], plain["components"], plain["kit_availability"]) == (False, [], None)


def test_the_product_list_shows_kits_in_a_fixed_number_of_queries(
    api, shop, duo, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = api.get("/products/")
    rows = {row["sku"]: row for row in response.json()["results"]}
    assert rows["DUO"]["components"][1] == {"sku": "MUG", "name": "Mug", "quantity": 2}
    assert rows["POSTER"]["components"] == []


def test_availability_of_a_kit_is_what_its_components_allow(api, shop, duo):
    stock(shop.mug, shop.lille, 5)  # lille: 5 T-shirts, 5 mugs → 2 kits; lyon 1 kit
    response = api.get("/availability/", {"sku": ["DUO", "MUG"]})
    assert response.json()["results"] == [
        {"sku": "DUO", "available": 3, "preorderable": 0, "next_restock_on": None},
        {"sku": "MUG", "available": 8, "preorderable": 0, "next_restock_on": None},
    ]


def test_ordering_a_kit_answers_with_its_components_allocations(api, shop, duo):
    response = api.post("/orders/", order_body(lines=[{"sku": "DUO", "quantity": 1}]))
    assert response.status_code == 201, response.json()
    line = response.json()["lines"][0]
    assert (line["sku"], line["quantity"]) == ("DUO", 1)
    assert line["components"] == [
        {"sku": "MUG", "name": "Mug", "quantity": 2},
        {"sku": "TSHIRT-M", "name": "T-shirt M", "quantity": 1},
    ]
    assert sorted((a["sku"], a["location"], a["quantity"], a["kind"]) for a in line["allocations"]) == [
        ("MUG", "lyon", 2, "stock"),
        ("TSHIRT-M", "lyon", 1, "stock"),
    ]
    assert api.get("/availability/", {"sku": ["DUO"]}).json()["results"][0]["available"] == 0


def test_a_kit_beyond_its_components_is_refused_and_nothing_is_written(api, shop, duo):
    before = db_state()
    response = api.post("/orders/", order_body(lines=[{"sku": "DUO", "quantity": 2}]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "out_of_stock"
    assert response.json()["error"]["details"]["lines"] == [
        {"sku": "DUO", "requested": 2, "available": 1, "preorderable": 0, "next_restock_on": None}
    ]
    assert db_state() == before


def test_stock_movements_of_a_kit_are_refused(api, shop, duo):
    before = db_state()
    response = api.post(
        "/stock/movements/", {"sku": "DUO", "location": "lyon", "quantity": 1, "reason": "receipt"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "kit_has_no_stock")
    assert db_state() == before


def _intake_statements(shop, lines, external_id):
    """The statements of the intake service itself (its consumers run after commit, elsewhere)."""
    with CaptureQueriesContext(connection) as queries:
        order_create(channel=shop.channel, data=order_input(lines=lines, external_id=external_id))
    return [q["sql"] for q in queries.captured_queries]


def test_an_order_without_kits_never_reads_kit_components(shop, duo, monkeypatch):
    monkeypatch.setattr(eventlog, "process_uncommitted", lambda: None)  # consumers: not the intake's cost
    plain = _intake_statements(shop, [("TSHIRT-M", 1), ("MUG", 1)], "P-1")
    assert not [sql for sql in plain if "inventory_kitcomponent" in sql]
    with_kit = _intake_statements(shop, [("TSHIRT-M", 1), ("DUO", 1)], "K-1")
    assert len([sql for sql in with_kit if "inventory_kitcomponent" in sql]) == 1
    # one read of the kit's components; its components are reserved like plain lines (one more level)
    assert len(with_kit) - len(plain) <= 2
    assert Allocation.objects.filter(line__sku="DUO").count() == 2


def test_the_promise_of_a_kit_follows_its_components(api, shop, duo):
    ask = {"sku": "DUO", "postcode": "69003", "country": "FR", "mode": "home"}
    one = api.get("/promise/", {**ask, "quantity": 1}).json()
    two = api.get("/promise/", {**ask, "quantity": 2}).json()
    # one kit can be sourced (no carrier service in this shop), two cannot: lyon's 3 mugs make one
    assert [u["code"] for u in one["unavailable"]] == ["no_service"]
    assert [u["code"] for u in two["unavailable"]] == ["out_of_stock"]
