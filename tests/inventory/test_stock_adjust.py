"""Adjustments and inventory counts (/stock/adjust/)."""

import pytest
from django.urls import reverse

from inventory.models import StockLevel, StockMovement

URL = "/stock/adjust/"


def _level(product, location):
    level = StockLevel.objects.get(product=product, location=location)
    return level.on_hand, level.reserved


def test_url_name():
    assert reverse("inventory:adjust") == URL


def test_a_negative_adjustment_with_its_reason(client, stocked, warehouse, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        URL,
        {
            "code": "TSHIRT-M",
            "location": "lyon",
            "mode": "delta",
            "delta": "-3",
            "reason_code": "damaged",
            "note": "wet",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:product_stock", args=["TSHIRT-M"])
    movement = StockMovement.objects.filter(reason="adjustment").get()
    assert (movement.delta, movement.reason_code, movement.note, movement.on_hand_after) == (
        -3,
        "damaged",
        "wet",
        7,
    )
    assert movement.actor == warehouse_user
    assert _level(stocked, warehouse) == (7, 2)


def test_a_count_sets_on_hand_through_an_adjustment(client, stocked, warehouse, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        URL, {"code": "3760000000017", "location": "lyon", "mode": "count", "counted": "12"}
    )
    assert response.status_code == 302
    movement = StockMovement.objects.filter(reason="adjustment").get()
    assert (movement.delta, movement.reason_code, movement.on_hand_after) == (2, "count", 12)
    assert _level(stocked, warehouse) == (12, 2)


def test_a_count_that_matches_writes_nothing(client, stocked, warehouse, warehouse_user):
    client.force_login(warehouse_user)
    before = StockMovement.objects.count()
    response = client.post(URL, {"code": "TSHIRT-M", "location": "lyon", "mode": "count", "counted": "10"})
    assert response.status_code == 302
    assert StockMovement.objects.count() == before


@pytest.mark.parametrize(
    "data",
    [
        {"mode": "delta", "delta": "-9", "reason_code": "lost"},  # 10 on hand, 2 reserved: at most 8 can go
        {"mode": "count", "counted": "1"},  # below the 2 reserved
    ],
)
def test_below_reserved_is_refused_and_nothing_written(client, stocked, warehouse, warehouse_user, data):
    client.force_login(warehouse_user)
    before = StockMovement.objects.count()
    response = client.post(URL, {"code": "TSHIRT-M", "location": "lyon", **data}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Not enough free units: 10 on hand, 2 reserved for orders, so at most 8 can leave. "
        "Reserved units cannot be removed."
    ]
    assert StockMovement.objects.count() == before
    assert _level(stocked, warehouse) == (10, 2)


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"code": "NOPE-1", "mode": "delta", "delta": "1", "reason_code": "found"}, ["code"]),
        ({"code": "TSHIRT-M", "mode": "delta", "delta": "0", "reason_code": "found"}, ["delta"]),
        ({"code": "TSHIRT-M", "mode": "delta", "delta": "", "reason_code": "found"}, ["delta"]),
        ({"code": "TSHIRT-M", "mode": "delta", "delta": "2", "reason_code": ""}, ["reason_code"]),
        ({"code": "TSHIRT-M", "mode": "delta", "delta": "2", "reason_code": "count"}, ["reason_code"]),
        ({"code": "TSHIRT-M", "mode": "count", "counted": ""}, ["counted"]),
        ({"code": "TSHIRT-M", "mode": "count", "counted": "-1"}, ["counted"]),
        ({"code": "TSHIRT-M", "mode": "other", "delta": "1", "reason_code": "found"}, ["mode"]),
    ],
)
def test_invalid_input_is_shown_on_the_form(client, stocked, warehouse_user, data, fields):
    client.force_login(warehouse_user)
    before = StockMovement.objects.count()
    response = client.post(URL, {"location": "lyon", **data})
    assert response.status_code == 400
    assert sorted(response.context["form"].errors) == fields
    assert StockMovement.objects.count() == before


def test_what_was_typed_is_kept(client, stocked, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        URL,
        {
            "code": "NOPE-1",
            "location": "lyon",
            "mode": "delta",
            "delta": "-2",
            "reason_code": "lost",
            "note": "n1",
        },
    )
    html = response.content.decode()
    assert 'value="NOPE-1"' in html
    assert 'value="-2"' in html
    assert 'value="n1"' in html
    assert '<option value="lost" selected>' in html
    assert "form-errors" in html


def test_another_locations_stock_is_refused(client, stocked, store, warehouse_user):
    client.force_login(warehouse_user)
    before = StockMovement.objects.count()
    response = client.post(
        URL, {"code": "TSHIRT-M", "location": "paris", "mode": "delta", "delta": "-1", "reason_code": "lost"}
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["location"]
    assert StockMovement.objects.count() == before
    assert _level(stocked, store) == (4, 0)


def test_store_staff_may_not_adjust(client, stocked, store_user):
    client.force_login(store_user)
    response = client.post(
        URL, {"code": "TSHIRT-M", "location": "paris", "mode": "delta", "delta": "-1", "reason_code": "lost"}
    )
    assert response.status_code == 403
    assert not StockMovement.objects.filter(reason="adjustment").exists()


def test_the_form_is_prefilled_from_the_product_page(client, stocked, warehouse_user):
    client.force_login(warehouse_user)
    form = client.get(URL, {"product": "TSHIRT-M", "location": "lyon"}).context["form"]
    assert (form["code"].value(), form["location"].value()) == ("TSHIRT-M", "lyon")


def test_below_zero_is_refused_with_the_stock_on_hand(client, product, warehouse, warehouse_user):
    from inventory import services

    services.stock_receive(product=product, location=warehouse, quantity=3)
    client.force_login(warehouse_user)
    response = client.post(
        URL,
        {"code": "TSHIRT-M", "location": "lyon", "mode": "delta", "delta": "-4", "reason_code": "lost"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Only 3 units are on hand here: the stock cannot go below zero."
    ]
    assert _level(product, warehouse) == (3, 0)
    assert StockMovement.objects.count() == 1
