"""Receiving what was expected, through the API: ``GET /stock/incoming/`` lists a SKU's replenishments,
``POST /stock/incoming/{id}/receive/`` receives one (all or part, with an Idempotency-Key), and a
``receipt`` movement at a location where the SKU is expected is received against it, oldest expected
first; either way the pre-orders waiting on it are allocated in order of arrival."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import services as inventory_services
from inventory.models import Allocation, IncomingStock, StockMovement
from orders.models import Order

from .conftest import db_state, level, order_body
from .factories import api_key


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def poster_po(shop) -> IncomingStock:
    """5 posters expected at lyon in 9 days (a purchase order)."""
    return inventory_services.incoming_create(
        product=shop.poster, location=shop.lyon, quantity=5, expected_on=_in(9), reference="PO-77"
    )


def _preorder(api, external_id: str, quantity: int) -> str:
    response = api.post(
        "/orders/",
        order_body(external_id, lines=[{"sku": "POSTER", "quantity": quantity}], allow_preorder=True),
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "awaiting_stock"
    return response.json()["number"]


def _receive(api, incoming_id: int, body=None, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else None
    return api.post(f"/stock/incoming/{incoming_id}/receive/", body or {}, headers=headers)


def _status(number: str) -> str:
    return Order.objects.get(number=number).status


# --- the list ---------------------------------------------------------------------------------------------


def test_list_a_skus_incoming_stock_soonest_first(api, shop, poster_po, django_assert_max_num_queries):
    # given: a transfer lille → paris sooner than the purchase order, a cancelled one, and a pre-order
    transfer = inventory_services.stock_transfer(
        product=shop.tshirt, from_location=shop.lille, to_location=shop.paris, quantity=2, expected_on=_in(2)
    )
    sooner = inventory_services.incoming_create(
        product=shop.poster, location=shop.lille, quantity=4, expected_on=_in(3)
    )
    gone = inventory_services.incoming_create(
        product=shop.poster, location=shop.lille, quantity=1, expected_on=_in(4)
    )
    inventory_services.incoming_cancel(incoming=gone)
    _preorder(api, "A", 6)  # more than either holds: sourcing splits it over the two
    # when
    with django_assert_max_num_queries(6):
        response = api.get("/stock/incoming/", {"sku": "POSTER"})
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    rows = {row["id"]: row for row in body["results"]}
    assert [row["id"] for row in body["results"]] == [sooner.pk, poster_po.pk]
    held = {a.incoming_id: a.quantity for a in Allocation.objects.filter(kind="incoming")}
    assert rows[poster_po.pk] == {
        "id": poster_po.pk,
        "sku": "POSTER",
        "location": "lyon",
        "kind": "purchase",
        "from_location": None,
        "reference": "PO-77",
        "expected_on": _in(9).isoformat(),
        "status": "open",
        "quantity": 5,
        "received": 0,
        "reserved": held.get(poster_po.pk, 0),
        "free": 5 - held.get(poster_po.pk, 0),
        "received_at": None,
    }
    assert rows[sooner.pk]["reserved"] == held.get(sooner.pk, 0)
    assert sum(held.values()) == 6
    # the transfer is the T-shirt's, at paris
    response = api.get("/stock/incoming/", {"location": "paris"})
    assert [(r["id"], r["sku"], r["kind"], r["from_location"]) for r in response.json()["results"]] == [
        (transfer.pk, "TSHIRT-M", "transfer", "lille")
    ]
    # every status
    response = api.get("/stock/incoming/", {"sku": "POSTER", "status": "all"})
    assert [r["id"] for r in response.json()["results"]] == [sooner.pk, gone.pk, poster_po.pk]
    response = api.get("/stock/incoming/", {"sku": "POSTER", "status": "cancelled"})
    assert [(r["id"], r["status"]) for r in response.json()["results"]] == [(gone.pk, "cancelled")]
    response = api.get("/stock/incoming/", {"sku": "POSTER", "location": "lyon"})
    assert [r["id"] for r in response.json()["results"]] == [poster_po.pk]


@pytest.mark.parametrize(
    ("params", "code", "details"),
    [
        ({"sku": "NOPE"}, "unknown_sku", {"sku": "NOPE"}),
        ({"location": "nowhere"}, "unknown_location", {"location": "nowhere"}),
        ({"status": "lost"}, "validation_error", None),
    ],
)
def test_list_refuses_unknown_filters(api, shop, params, code, details):
    response = api.get("/stock/incoming/", params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    if details is not None:
        assert error["details"] == details
    else:
        assert list(error["details"]) == ["status"]


def test_the_stock_scope_is_needed(api, shop, poster_po):
    orders_only = api.as_key(api_key(shop.channel, "orders"))
    before = db_state()
    assert orders_only.get("/stock/incoming/").status_code == 403
    response = _receive(orders_only, poster_po.pk)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "permission_denied")
    assert db_state() == before


# --- receiving a replenishment ----------------------------------------------------------------------------


def test_receiving_all_allocates_the_waiting_preorders_in_order_of_arrival(api, shop, poster_po):
    # given: two pre-orders waiting on the purchase order (2 then 2 of its 5 units)
    first, second = _preorder(api, "A", 2), _preorder(api, "B", 2)
    # when
    response = _receive(api, poster_po.pk)
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    movement = StockMovement.objects.get(pk=body["movement"]["id"])
    assert body["received"] == 5
    assert body["allocated"] == [
        {"order": first, "line": 1, "sku": "POSTER", "quantity": 2},
        {"order": second, "line": 1, "sku": "POSTER", "quantity": 2},
    ]
    assert body["movement"] == {
        "id": movement.pk,
        "sku": "POSTER",
        "location": "lyon",
        "quantity": 5,
        "reason": "receipt",
        "reason_code": "",
        "on_hand_after": 5,
        "created_at": timezone.localtime(movement.created_at).isoformat(),
    }
    assert movement.reference == "PO-77"
    poster_po.refresh_from_db()
    assert {k: body["incoming"][k] for k in ("id", "status", "quantity", "received", "reserved", "free")} == {
        "id": poster_po.pk,
        "status": "received",
        "quantity": 0,
        "received": 5,
        "reserved": 0,
        "free": 0,
    }
    assert body["incoming"]["received_at"] == timezone.localtime(poster_po.received_at).isoformat()
    assert (poster_po.quantity, poster_po.received, poster_po.reserved, poster_po.status) == (
        0,
        5,
        0,
        "received",
    )
    assert level(shop.poster, shop.lyon) == (5, 4)
    assert (_status(first), _status(second)) == ("allocated", "allocated")
    detail = api.get(f"/orders/{second}/").json()
    assert detail["lines"][0]["allocations"] == [
        {"sku": "POSTER", "location": "lyon", "quantity": 2, "kind": "stock", "expected_on": None}
    ]
    # the received replenishment has left the default list
    assert api.get("/stock/incoming/", {"sku": "POSTER"}).json()["count"] == 0
    call_command("stock_audit")


def test_receiving_part_serves_the_oldest_preorder_first(api, shop, poster_po):
    # given
    first, second = _preorder(api, "A", 2), _preorder(api, "B", 2)
    # when: 3 units arrive, with the delivery note's number
    response = _receive(api, poster_po.pk, {"quantity": 3, "reference": "BL-42"})
    # then: the first order is served, the second has one unit of two
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["received"] == 3
    assert [(a["order"], a["quantity"]) for a in body["allocated"]] == [(first, 2), (second, 1)]
    assert StockMovement.objects.get(pk=body["movement"]["id"]).reference == "BL-42"
    assert (body["incoming"]["status"], body["incoming"]["quantity"], body["incoming"]["received"]) == (
        "open",
        2,
        3,
    )
    assert (body["incoming"]["reserved"], body["incoming"]["free"]) == (1, 1)
    assert (_status(first), _status(second)) == ("allocated", "awaiting_stock")
    assert level(shop.poster, shop.lyon) == (3, 3)
    # when: the rest
    response = _receive(api, poster_po.pk)
    # then
    assert response.status_code == 200
    assert [(a["order"], a["quantity"]) for a in response.json()["allocated"]] == [(second, 1)]
    assert response.json()["received"] == 2
    assert _status(second) == "allocated"
    assert level(shop.poster, shop.lyon) == (5, 4)
    call_command("stock_audit")


def test_a_transfer_is_received_as_a_transfer_in(api, shop):
    transfer = inventory_services.stock_transfer(
        product=shop.tshirt, from_location=shop.lyon, to_location=shop.paris, quantity=3, expected_on=_in(1)
    )
    response = _receive(api, transfer.pk)
    assert response.status_code == 200
    assert (response.json()["movement"]["reason"], response.json()["movement"]["location"]) == (
        "transfer_in",
        "paris",
    )
    assert response.json()["allocated"] == []
    assert level(shop.tshirt, shop.paris) == (3, 0)
    call_command("stock_audit")


def test_an_idempotency_key_receives_once_and_replays_the_answer(api, shop, poster_po):
    # given
    _preorder(api, "A", 2)
    # when: the integrator's retry sends the same request with the same key
    first = _receive(api, poster_po.pk, {"quantity": 2}, key="rcv-1")
    replay = _receive(api, poster_po.pk, {"quantity": 2}, key="rcv-1")
    # then: received once, the same answer twice, byte for byte
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert replay.content == first.content
    poster_po.refresh_from_db()
    assert (poster_po.quantity, poster_po.received) == (3, 2)
    assert StockMovement.objects.filter(product=shop.poster).count() == 1
    # the same key with another body is refused, and writes nothing
    before = db_state()
    reused = _receive(api, poster_po.pk, {"quantity": 1}, key="rcv-1")
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "idempotency_key_reused")
    # the same key on another replenishment is another request
    other = inventory_services.incoming_create(
        product=shop.mug, location=shop.lyon, quantity=1, expected_on=_in(3)
    )
    before = db_state()
    reused = _receive(api, other.pk, {"quantity": 2}, key="rcv-1")
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert db_state() == before


def test_a_refusal_with_a_key_is_replayed_only_when_it_is_a_business_answer(api, shop, poster_po):
    # too many units: 422, the key is forgotten, the corrected request goes through with it
    before = db_state()
    response = _receive(api, poster_po.pk, {"quantity": 6}, key="k")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_quantity")
    assert response.json()["error"]["details"] == {"expected": 5}
    assert db_state() == before
    assert _receive(api, poster_po.pk, {"quantity": 5}, key="k").status_code == 200
    # already received: 409, and a retry with its key gets the same 409
    closed = _receive(api, poster_po.pk, {}, key="k2")
    assert (closed.status_code, closed.json()["error"]["code"]) == (409, "incoming_closed")
    again = _receive(api, poster_po.pk, {}, key="k2")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (409, "true")
    assert again.json() == closed.json()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"quantity": 0}, 422, "validation_error", "quantity"),
        ({"quantity": -1}, 422, "validation_error", "quantity"),
        ({"quantity": "two"}, 422, "validation_error", "quantity"),
        ({"quantity": 2.5}, 422, "validation_error", "quantity"),
        ({"reference": "x" * 101}, 422, "validation_error", "reference"),
    ],
)
def test_invalid_receipts_are_refused_and_write_nothing(api, shop, poster_po, body, status, code, field):
    before = db_state()
    response = _receive(api, poster_po.pk, body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert list(response.json()["error"]["details"]) == [field]
    assert db_state() == before


def test_an_unknown_or_cancelled_replenishment(api, shop, poster_po):
    before = db_state()
    response = _receive(api, 987654)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert db_state() == before
    inventory_services.incoming_cancel(incoming=poster_po)
    before = db_state()
    response = _receive(api, poster_po.pk)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "incoming_closed")
    assert response.json()["error"]["details"] == {"incoming": poster_po.pk, "status": "cancelled"}
    assert db_state() == before


# --- a receipt movement where the SKU is expected -------------------------------------------------------


def test_a_receipt_movement_uses_the_expected_replenishments_oldest_first(api, shop, poster_po):
    # given: a second purchase order expected sooner, and three pre-orders on the two
    sooner = inventory_services.incoming_create(
        product=shop.poster, location=shop.lyon, quantity=2, expected_on=_in(2), reference="PO-76"
    )
    first, second, third = _preorder(api, "A", 2), _preorder(api, "B", 2), _preorder(api, "C", 1)
    waiting_on = dict(Allocation.objects.filter(kind="incoming").values_list("order__number", "incoming_id"))
    assert waiting_on == {first: sooner.pk, second: poster_po.pk, third: poster_po.pk}
    # when: 8 posters are reported as a plain receipt at lyon
    response = api.post(
        "/stock/movements/", {"sku": "POSTER", "location": "lyon", "quantity": 8, "reason": "receipt"}
    )
    # then: 2 against the sooner one, 5 against the other, 1 nobody expected; every pre-order is served
    assert response.status_code == 201, response.content
    assert (response.json()["reason"], response.json()["on_hand_after"]) == ("receipt", 8)
    sooner.refresh_from_db()
    poster_po.refresh_from_db()
    assert (sooner.status, sooner.received, sooner.quantity) == ("received", 2, 0)
    assert (poster_po.status, poster_po.received, poster_po.quantity) == ("received", 5, 0)
    assert [m.delta for m in StockMovement.objects.filter(product=shop.poster).order_by("pk")] == [2, 5, 1]
    assert (_status(first), _status(second), _status(third)) == ("allocated",) * 3
    assert not Allocation.objects.filter(kind="incoming").exists()
    assert level(shop.poster, shop.lyon) == (8, 5)
    call_command("stock_audit")


def test_a_partial_receipt_movement_leaves_the_rest_expected(api, shop, poster_po):
    first, second = _preorder(api, "A", 2), _preorder(api, "B", 2)
    response = api.post(
        "/stock/movements/", {"sku": "POSTER", "location": "lyon", "quantity": 3, "reason": "receipt"}
    )
    assert response.status_code == 201
    listed = api.get("/stock/incoming/", {"sku": "POSTER"}).json()["results"]
    assert [(r["id"], r["quantity"], r["received"], r["reserved"]) for r in listed] == [
        (poster_po.pk, 2, 3, 1)
    ]
    assert (_status(first), _status(second)) == ("allocated", "awaiting_stock")
    # a receipt elsewhere does not touch it
    api.post("/stock/movements/", {"sku": "POSTER", "location": "lille", "quantity": 4, "reason": "receipt"})
    poster_po.refresh_from_db()
    assert (poster_po.quantity, poster_po.received) == (2, 3)
    assert level(shop.poster, shop.lille) == (4, 0)
    call_command("stock_audit")
