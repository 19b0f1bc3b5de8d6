"""The API of what happens to an order after it is placed: edits, units cancelled, holds, payments and the
changes list; each POST honours Idempotency-Key; every refusal is in the error format and changes nothing."""

from decimal import Decimal

import pytest

from orders.models import Order

from .conftest import db_state, level, order_body

pytestmark = pytest.mark.django_db


def _place(api, **extra) -> str:
    response = api.post(
        "/orders/",
        order_body(lines=[{"sku": "TSHIRT-M", "quantity": 3}, {"sku": "MUG", "quantity": 1}], **extra),
    )
    assert response.status_code == 201, response.json()
    return response.json()["number"]


def test_edit_quantities_add_a_line_and_read_the_change(api, shop):
    number = _place(api, shipping_fee="4.90")

    response = api.post(
        f"/orders/{number}/edit/",
        {"lines": [{"line": 1, "quantity": 1}], "add": [{"sku": "MUG", "quantity": 1}], "reason": "client"},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["change"]["kind"] == "edit"
    assert (body["change"]["total_before"], body["change"]["total_after"], body["change"]["difference"]) == (
        "73.10",  # 3 × 19.90 + 8.50 + 4.90
        "41.80",  # 19.90 + 8.50 + 8.50 + 4.90
        "-31.30",
    )
    lines = {
        (line["line"], line["sku"]): (line["quantity"], line["quantity_cancelled"])
        for line in body["order"]["lines"]
    }
    assert lines == {(1, "TSHIRT-M"): (1, 2), (2, "MUG"): (1, 0), (3, "MUG"): (1, 0)}
    assert level(shop.mug, shop.lyon) == (3, 2)
    changes = api.get(f"/orders/{number}/changes/").json()
    assert [c["kind"] for c in changes] == ["edit"] and changes[0]["reason"] == "client"


def test_an_edit_beyond_stock_is_409_and_changes_nothing(api, shop):
    number = _place(api)
    before = db_state()

    response = api.post(f"/orders/{number}/edit/", {"lines": [{"line": 2, "quantity": 4}]})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "out_of_stock"
    assert db_state() == before


def test_an_edit_after_picking_started_says_why(api, shop):
    number = _place(api)
    Order.objects.filter(number=number).update(status="in_preparation")

    response = api.post(f"/orders/{number}/edit/", {"lines": [{"line": 1, "quantity": 1}]})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "edit_refused" and "Cancel the units" in error["message"]


def test_edit_with_a_bad_body_is_422_and_an_unknown_order_404(api, shop):
    number = _place(api)

    assert api.post(f"/orders/{number}/edit/", {"lines": [{"line": 1, "quantity": -1}]}).status_code == 422
    assert api.post(f"/orders/{number}/edit/", {}).json()["error"]["code"] == "validation_error"
    assert api.post("/orders/CMD-NOPE/edit/", {"lines": [{"line": 1, "quantity": 1}]}).status_code == 404


def test_cancel_lines_is_idempotent_by_key(api, shop):
    number = _place(api)
    headers = {"Idempotency-Key": "cancel-lines-1"}

    first = api.post(
        f"/orders/{number}/cancel-lines/", {"lines": [{"line": 1, "quantity": 2}]}, headers=headers
    )
    again = api.post(
        f"/orders/{number}/cancel-lines/", {"lines": [{"line": 1, "quantity": 2}]}, headers=headers
    )
    other = api.post(
        f"/orders/{number}/cancel-lines/", {"lines": [{"line": 1, "quantity": 1}]}, headers=headers
    )

    assert first.status_code == 200 and first.json()["change"]["difference"] == "-39.80"
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    order = Order.objects.get(number=number)
    assert order.lines.get(line_no=1).quantity == 1  # cancelled once


def test_cancelling_more_than_is_left_is_409(api, shop):
    number = _place(api)
    before = db_state()

    response = api.post(f"/orders/{number}/cancel-lines/", {"lines": [{"line": 2, "quantity": 2}]})

    assert response.status_code == 409 and response.json()["error"]["code"] == "edit_refused"
    assert db_state() == before


def test_payment_pending_hold_then_payment_recorded(api, shop):
    number = _place(api, payment={"status": "pending"})
    order = api.get(f"/orders/{number}/").json()
    assert order["holds"] == ["payment"] and order["payment"]["status"] == "pending"

    too_much = api.post(f"/orders/{number}/payments/", {"amount": "1000.00"})
    paid = api.post(
        f"/orders/{number}/payments/",
        {"amount": "68.20", "reference": "VIR-1", "method": "transfer"},
        headers={"Idempotency-Key": "pay-1"},
    )
    replay = api.post(
        f"/orders/{number}/payments/",
        {"amount": "68.20", "reference": "VIR-1", "method": "transfer"},
        headers={"Idempotency-Key": "pay-1"},
    )

    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "payment_refused"
    assert paid.status_code == 201
    body = paid.json()
    assert (body["status"], body["amount_paid"], body["holds"]) == ("paid", "68.20", [])
    assert [t["kind"] for t in body["transactions"]] == ["payment"]
    assert replay.json() == body
    assert Order.objects.get(number=number).amount_paid == Decimal("68.20")


def test_hold_and_release(api, shop):
    number = _place(api)

    held = api.post(f"/orders/{number}/hold/", {"kind": "fraud", "reason": "adresse suspecte"})
    released = api.post(f"/orders/{number}/hold/", {"kind": "fraud", "release": True})
    again = api.post(f"/orders/{number}/hold/", {"kind": "fraud", "release": True})

    assert held.status_code == 200 and held.json()["holds"] == ["fraud"]
    assert released.json()["holds"] == []
    assert again.status_code == 409 and again.json()["error"]["code"] == "edit_refused"


def test_the_cancel_endpoint_honours_idempotency_keys_too(api, shop):
    number = _place(api)
    headers = {"Idempotency-Key": "cancel-1"}

    first = api.post(f"/orders/{number}/cancel/", {"reason": "client"}, headers=headers)
    again = api.post(f"/orders/{number}/cancel/", {"reason": "client"}, headers=headers)

    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()


def test_the_new_endpoints_are_in_the_schema(api, shop):
    schema = api.client.get("/api/v1/schema/?format=json").json()

    for path in ("edit", "cancel-lines", "changes", "hold", "payments"):
        assert f"/api/v1/orders/{{number}}/{path}/" in schema["paths"]
    edit = schema["paths"]["/api/v1/orders/{number}/edit/"]["post"]
    assert {"409", "422"} <= set(edit["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in edit["parameters"])
