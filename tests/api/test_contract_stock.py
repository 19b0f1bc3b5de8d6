"""``/stock/movements/``, ``/stock/incoming/``, ``/stock/``, ``/availability/`` and ``/promise/``."""

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import services as inventory_services
from inventory.models import IncomingStock, StockMovement

from .conftest import db_state, level, order_body


def _movement(api, **body):
    return api.post("/stock/movements/", body)


def test_receipt_adds_on_hand_and_writes_the_ledger(api, shop):
    response = _movement(
        api, sku="TSHIRT-M", location="lyon", quantity=7, reason="receipt", reference="PO-12"
    )
    assert response.status_code == 201
    movement = StockMovement.objects.get(pk=response.json()["id"])
    assert response.json() == {
        "id": movement.pk,
        "sku": "TSHIRT-M",
        "location": "lyon",
        "quantity": 7,
        "reason": "receipt",
        "reason_code": "",
        "on_hand_after": 17,
        "created_at": timezone.localtime(movement.created_at).isoformat(),
    }
    assert movement.reference == "PO-12"
    assert level(shop.tshirt, shop.lyon) == (17, 0)


def test_a_receipt_at_a_location_without_stock_creates_the_level(api, shop):
    response = _movement(api, sku="POSTER", location="paris", quantity=2, reason="receipt")
    assert response.status_code == 201
    assert level(shop.poster, shop.paris) == (2, 0)


def test_adjustment_down_and_up(api, shop):
    response = _movement(
        api,
        sku="TSHIRT-M",
        location="lyon",
        quantity=-3,
        reason="adjustment",
        reason_code="damaged",
        note="wet",
    )
    assert response.status_code == 201
    assert (
        response.json()["quantity"],
        response.json()["reason_code"],
        response.json()["on_hand_after"],
    ) == (
        -3,
        "damaged",
        7,
    )
    response = _movement(api, sku="TSHIRT-M", location="lyon", quantity=1, reason="adjustment")
    assert (response.status_code, response.json()["reason_code"]) == (201, "other")
    assert level(shop.tshirt, shop.lyon) == (8, 0)


def test_transfer_out_leaves_the_source_and_is_incoming_at_the_destination(api, shop):
    response = _movement(
        api,
        sku="TSHIRT-M",
        location="lyon",
        quantity=4,
        reason="transfer_out",
        to_location="paris",
        expected_on="2099-03-01",
    )
    assert response.status_code == 201
    body = response.json()
    transfer = IncomingStock.objects.get(kind="transfer")
    assert (body["quantity"], body["reason"], body["on_hand_after"]) == (-4, "transfer_out", 6)
    assert body["transfer"] == {
        "id": transfer.pk,
        "location": "paris",
        "quantity": 4,
        "reserved": 0,
        "expected_on": "2099-03-01",
    }
    assert level(shop.tshirt, shop.lyon) == (6, 0)
    assert transfer.from_location == shop.lyon


@pytest.mark.parametrize(
    ("body", "status", "code", "details"),
    [
        (
            {"sku": "NOPE", "location": "lyon", "quantity": 1, "reason": "receipt"},
            422,
            "unknown_sku",
            {"sku": "NOPE"},
        ),
        (
            {"sku": "TSHIRT-M", "location": "nowhere", "quantity": 1, "reason": "receipt"},
            422,
            "unknown_location",
            {"location": "nowhere"},
        ),
        (
            {
                "sku": "TSHIRT-M",
                "location": "lyon",
                "quantity": 1,
                "reason": "transfer_out",
                "to_location": "nope",
            },
            422,
            "unknown_location",
            {"to_location": "nope"},
        ),
        (
            {
                "sku": "TSHIRT-M",
                "location": "lyon",
                "quantity": 1,
                "reason": "transfer_out",
                "to_location": "lyon",
            },
            422,
            "same_location",
            {},
        ),
        (
            {"sku": "TSHIRT-M", "location": "lyon", "quantity": -11, "reason": "adjustment"},
            409,
            "insufficient_stock",
            {"on_hand": 10, "reserved": 0, "requested": 11},
        ),
        (
            {
                "sku": "TSHIRT-M",
                "location": "lyon",
                "quantity": 11,
                "reason": "transfer_out",
                "to_location": "lille",
            },
            409,
            "insufficient_stock",
            {"on_hand": 10, "reserved": 0, "requested": 11},
        ),
    ],
    ids=[
        "unknown sku",
        "unknown location",
        "unknown destination",
        "same location",
        "below zero",
        "transfer too many",
    ],
)
def test_refused_movement_writes_nothing(api, shop, body, status, code, details):
    before = db_state()
    response = _movement(api, **body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["details"] == details
    assert db_state() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"quantity": 1_000_001}, "quantity"),
        ({"reason": "gift"}, "reason"),
        ({"reason": "shipment"}, "reason"),
        ({"sku": ""}, "sku"),
        ({"location": ["lyon"]}, "location"),
        ({"reason_code": "stolen"}, "reason_code"),
    ],
)
def test_invalid_receipt_is_422_and_writes_nothing(api, shop, change, field):
    before = db_state()
    response = _movement(
        api, **{"sku": "TSHIRT-M", "location": "lyon", "quantity": 2, "reason": "receipt", **change}
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == [field]
    assert db_state() == before


def test_adjustment_cannot_be_zero_and_transfer_needs_a_destination(api, shop):
    before = db_state()
    response = _movement(api, sku="TSHIRT-M", location="lyon", quantity=0, reason="adjustment")
    assert response.json()["error"]["details"] == {"quantity": ["An adjustment cannot be zero."]}
    response = _movement(api, sku="TSHIRT-M", location="lyon", quantity=1, reason="transfer_out")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"to_location": ["Required for a transfer."]}
    assert db_state() == before


def test_adjustment_cannot_take_reserved_units(api, shop):
    assert api.post("/orders/", order_body(lines=[{"sku": "TSHIRT-M", "quantity": 8}])).status_code == 201
    before = db_state()
    response = _movement(api, sku="TSHIRT-M", location="lyon", quantity=-3, reason="adjustment")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_stock"
    assert response.json()["error"]["details"] == {"on_hand": 10, "reserved": 8, "requested": 3}
    assert db_state() == before


def test_create_incoming_stock(api, shop):
    expected_on = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = api.post(
        "/stock/incoming/",
        {
            "sku": "POSTER",
            "location": "lille",
            "quantity": 12,
            "expected_on": expected_on,
            "reference": "PO-1",
        },
    )
    assert response.status_code == 201
    incoming = IncomingStock.objects.get()
    assert response.json() == {
        "id": incoming.pk,
        "location": "lille",
        "quantity": 12,
        "reserved": 0,
        "expected_on": expected_on,
    }
    assert (incoming.reference, incoming.kind, incoming.status) == ("PO-1", "purchase", "open")


def test_incoming_stock_expected_today_is_fine(api, shop):
    today = timezone.localdate().isoformat()
    response = api.post(
        "/stock/incoming/", {"sku": "POSTER", "location": "lyon", "quantity": 1, "expected_on": today}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"sku": "NOPE"}, 422, "unknown_sku", "sku"),
        ({"location": "nowhere"}, 422, "unknown_location", "location"),
        ({"quantity": 0}, 422, "validation_error", "quantity"),
        ({"quantity": -5}, 422, "validation_error", "quantity"),
        ({"quantity": "ten"}, 422, "validation_error", "quantity"),
        ({"quantity": 2.5}, 422, "validation_error", "quantity"),
        ({"expected_on": "2020-01-01"}, 422, "validation_error", "expected_on"),
        ({"expected_on": "tomorrow"}, 422, "validation_error", "expected_on"),
        ({"expected_on": "2099-02-30"}, 422, "validation_error", "expected_on"),
        ({"expected_on": None}, 422, "validation_error", "expected_on"),
    ],
)
def test_invalid_incoming_is_refused_and_writes_nothing(api, shop, change, status, code, field):
    before = db_state()
    body = {"sku": "POSTER", "location": "lyon", "quantity": 3, "expected_on": "2099-01-01", **change}
    response = api.post("/stock/incoming/", body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert list(response.json()["error"]["details"]) == [field]
    assert db_state() == before


def test_stock_per_location_with_incoming(api, shop, django_assert_max_num_queries):
    inventory_services.stock_receive(product=shop.tshirt, location=shop.lyon, quantity=1, bin_code="A-01-2")
    incoming = inventory_services.incoming_create(
        product=shop.tshirt, location=shop.lille, quantity=20, expected_on=date(2099, 5, 4)
    )
    api.post("/orders/", order_body(lines=[{"sku": "TSHIRT-M", "quantity": 3}]))
    with django_assert_max_num_queries(6):
        response = api.get("/stock/", {"sku": "TSHIRT-M"})
    assert response.status_code == 200
    assert response.json() == {
        "sku": "TSHIRT-M",
        "locations": [
            {"location": "lille", "on_hand": 5, "reserved": 0, "available": 5, "bin": ""},
            {"location": "lyon", "on_hand": 11, "reserved": 3, "available": 8, "bin": "A-01-2"},
        ],
        "incoming": [
            {
                "id": incoming.pk,
                "location": "lille",
                "quantity": 20,
                "reserved": 0,
                "expected_on": "2099-05-04",
            }
        ],
    }


def test_stock_errors(api, shop):
    response = api.get("/stock/")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")
    assert response.json()["error"]["details"] == {"sku": ["This parameter is required."]}
    response = api.get("/stock/", {"sku": "NOPE"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_availability_for_the_keys_channel(api, shop, django_assert_max_num_queries):
    inventory_services.incoming_create(
        product=shop.poster, location=shop.lyon, quantity=6, expected_on=date(2099, 6, 1)
    )
    inventory_services.incoming_create(
        product=shop.poster, location=shop.lille, quantity=4, expected_on=date(2099, 5, 1)
    )
    api.post("/orders/", order_body(lines=[{"sku": "TSHIRT-M", "quantity": 4}]))
    with django_assert_max_num_queries(8):
        response = api.get("/availability/", {"sku": ["TSHIRT-M", "POSTER", "NOPE", "MUG", "TSHIRT-M"]})
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"sku": "TSHIRT-M", "available": 11, "preorderable": 0, "next_restock_on": None},
            {"sku": "POSTER", "available": 0, "preorderable": 10, "next_restock_on": "2099-05-01"},
            {"sku": "MUG", "available": 3, "preorderable": 0, "next_restock_on": None},
        ],
        "unknown_skus": ["NOPE"],
    }


def test_availability_keeps_the_channels_safety_buffer_back(api, shop):
    shop.channel.safety_buffer = 2
    shop.channel.save(update_fields=["safety_buffer"])
    response = api.get("/availability/", {"sku": ["TSHIRT-M", "MUG"]})
    assert [(r["sku"], r["available"]) for r in response.json()["results"]] == [("TSHIRT-M", 13), ("MUG", 1)]


def test_availability_counts_only_the_channels_locations(api, shop):
    from tests.inventory.factories import LocationFactory

    from .factories import stock

    stock(shop.tshirt, LocationFactory(code="marseille"), 100)
    response = api.get("/availability/", {"sku": "TSHIRT-M"})
    assert response.json()["results"][0]["available"] == 15


@pytest.mark.parametrize(
    "params", [{}, {"sku": ""}, {"sku": [f"S{n}" for n in range(101)]}], ids=["none", "blank", "101"]
)
def test_availability_needs_between_1_and_100_skus(api, shop, params):
    response = api.get("/availability/", params)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"sku": ["Between 1 and 100 values."]}


def test_promise_answers_with_options(api, shop):
    response = api.get(
        "/promise/", {"sku": "TSHIRT-M", "quantity": 1, "postcode": "69003", "country": "FR", "mode": "home"}
    )
    assert response.status_code == 200
    # No carrier service in this shop: home delivery is listed as unavailable, with its reason.
    no_service = "No carrier service takes these parcels there."
    assert response.json() == {
        "options": [],
        "unavailable": [{"mode": "home", "code": "no_service", "message": no_service, "store": None}],
    }


def test_the_audit_is_clean_after_the_api_moved_stock(api, shop):
    _movement(api, sku="TSHIRT-M", location="lyon", quantity=4, reason="transfer_out", to_location="lille")
    _movement(api, sku="MUG", location="lyon", quantity=-1, reason="adjustment", reason_code="lost")
    api.post(
        "/orders/", order_body(lines=[{"sku": "TSHIRT-M", "quantity": 2}, {"sku": "MUG", "quantity": 2}])
    )
    call_command("stock_audit")
