"""``/api/v1/orders/{number}/refunds/``: an amount given back without a return (a commercial gesture). The
answer's shape, Idempotency-Key, and every refusal in the error format with nothing changed."""

import pytest

from orders.models import GoodwillRefund, PaymentTransaction

from .conftest import db_state, order_body

pytestmark = pytest.mark.django_db

PAID = {"status": "paid", "amount": "68.20", "provider": "sandbox", "reference": "sbx_pi_api"}


def _place(api, **extra) -> str:
    response = api.post(
        "/orders/",
        order_body(lines=[{"sku": "TSHIRT-M", "quantity": 3}, {"sku": "MUG", "quantity": 1}], **extra),
    )
    assert response.status_code == 201, response.json()
    return response.json()["number"]


def _body(**changes) -> dict:
    return {"amount": "5.00", "reason": "late_delivery", "note": "Livraison en retard", **changes}


def test_a_refund_is_201_with_the_refund_and_the_order_and_listed_after(
    api, shop, django_capture_on_commit_callbacks
):
    number = _place(api, payment=PAID)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/orders/{number}/refunds/", _body(), headers={"Idempotency-Key": "gw-1"})

    assert response.status_code == 201, response.json()
    body = response.json()
    refund = body["refund"]
    assert {k: refund[k] for k in ("amount", "reason", "note", "source", "reason_code")} == {
        "amount": "5.00",
        "reason": "late_delivery",
        "note": "Livraison en retard",
        "source": "api",
        "reason_code": "",
    }
    assert body["order"]["number"] == number
    # the money goes back after the answer, through the payment service (the order's consumer)
    assert api.get(f"/orders/{number}/payments/").json()["amount_refunded"] == "5.00"
    assert PaymentTransaction.objects.get(order__number=number, kind="refund").amount == 5
    listed = api.get(f"/orders/{number}/refunds/").json()
    assert [(r["id"], r["amount"]) for r in listed] == [(refund["id"], "5.00")]


def test_the_same_idempotency_key_replays_and_never_refunds_twice(
    api, shop, django_capture_on_commit_callbacks
):
    number = _place(api, payment=PAID)
    headers = {"Idempotency-Key": "gw-2"}

    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"/orders/{number}/refunds/", _body(), headers=headers)
        again = api.post(f"/orders/{number}/refunds/", _body(), headers=headers)
        other = api.post(f"/orders/{number}/refunds/", _body(amount="6.00"), headers=headers)

    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert GoodwillRefund.objects.filter(order__number=number).count() == 1
    assert PaymentTransaction.objects.filter(order__number=number, kind="refund").count() == 1


def test_more_than_what_is_left_is_409_with_what_is_left_and_changes_nothing(api, shop):
    number = _place(api, payment=PAID)
    before = db_state()

    response = api.post(f"/orders/{number}/refunds/", _body(amount="68.21"))

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]["left"]) == ("refund_refused", "68.20")
    assert db_state() == before
    assert not GoodwillRefund.objects.exists()


def test_an_unpaid_order_is_409_and_a_bad_body_422_and_an_unknown_order_404(api, shop):
    number = _place(api)

    unpaid = api.post(f"/orders/{number}/refunds/", _body())
    assert unpaid.status_code == 409 and unpaid.json()["error"]["code"] == "refund_refused"
    for bad in (_body(amount="0"), _body(amount="-1"), _body(reason="nope"), _body(note=""), {"amount": "x"}):
        response = api.post(f"/orders/{number}/refunds/", bad)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "validation_error"
    assert api.post("/orders/CMD-NOPE/refunds/", _body()).status_code == 404
    assert api.get("/orders/CMD-NOPE/refunds/").status_code == 404
    assert not GoodwillRefund.objects.exists()


def test_the_refunds_endpoint_is_in_the_schema(api, shop):
    schema = api.client.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/orders/{number}/refunds/"]
    assert {"get", "post"} <= set(operation)
    assert {"201", "409", "422", "404"} <= set(operation["post"]["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["post"]["parameters"])
