"""``POST /api/v1/orders/batch/``: each order taken or refused on its own, results in the order sent, the
same answers as the single endpoint, a replay with the batch's Idempotency-Key, few statements."""

from decimal import Decimal

import pytest

from common.models import DomainEvent
from inventory.models import Allocation, StockLevel
from orders.models import IdempotencyKey, Order

from .conftest import db_state, order_body
from .factories import ProductFactory

pytestmark = pytest.mark.django_db


def levels(*products) -> dict:
    return {
        (lvl.product.sku, lvl.location.code): (lvl.on_hand, lvl.reserved)
        for lvl in StockLevel.objects.filter(product__in=products).select_related("product", "location")
    }


def test_batch_takes_each_order_on_its_own_in_the_order_sent(api, shop):
    # given: one good order, one for an unknown SKU, one with a field missing, one more than the stock
    body = {
        "orders": [
            order_body("B-1", lines=[{"sku": "TSHIRT-M", "quantity": 2}]),
            order_body("B-2", lines=[{"sku": "NOPE", "quantity": 1}]),
            {**order_body("B-3"), "customer": {"first_name": "Ana"}},
            order_body("B-4", lines=[{"sku": "MUG", "quantity": 4}]),
            order_body("B-5", lines=[{"sku": "MUG", "quantity": 3}], customer={"email": "b@example.fr"}),
        ]
    }
    # when
    response = api.post("/orders/batch/", body)
    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 422, 409, 201]
    assert results[0]["order"]["external_id"] == "B-1"
    assert results[0]["order"]["status"] == "allocated"
    assert results[0]["order"]["lines"][0]["allocations"] == [
        {"sku": "TSHIRT-M", "location": "lyon", "quantity": 2, "kind": "stock", "expected_on": None}
    ]
    assert results[1]["error"]["code"] == "unknown_sku"
    assert results[1]["error"]["details"] == {"skus": ["NOPE"]}
    assert results[2]["error"]["code"] == "validation_error"
    assert "email" in results[2]["error"]["details"]["customer"]
    assert results[3]["error"]["code"] == "out_of_stock"
    assert results[3]["error"]["details"]["lines"][0]["requested"] == 4
    assert results[4]["order"]["external_id"] == "B-5"
    assert set(Order.objects.values_list("external_id", flat=True)) == {"B-1", "B-5"}
    assert levels(shop.tshirt, shop.mug) == {
        ("TSHIRT-M", "lyon"): (10, 2),
        ("TSHIRT-M", "lille"): (5, 0),
        ("MUG", "lyon"): (3, 3),
    }
    # the order's answer is the single endpoint's, byte for byte
    single = api.get(f"/orders/{results[0]['order']['number']}/").json()
    assert {k: single[k] for k in results[0]["order"]} == results[0]["order"]


def test_a_batch_never_plans_the_same_units_twice(api, shop):
    # given: 15 T-shirts in all (10 at lyon, 5 at lille); 8 orders of 2 ask for 16
    body = {"orders": [order_body(f"R-{i}", lines=[{"sku": "TSHIRT-M", "quantity": 2}]) for i in range(8)]}
    # when
    results = api.post("/orders/batch/", body).json()["results"]
    # then: 7 taken (14 units), the last refused, nothing oversold
    assert [r["status"] for r in results] == [201] * 7 + [409]
    assert levels(shop.tshirt) == {("TSHIRT-M", "lyon"): (10, 10), ("TSHIRT-M", "lille"): (5, 4)}
    assert sum(Allocation.objects.values_list("quantity", flat=True)) == 14


def test_duplicates_in_the_batch_and_already_taken(api, shop):
    assert api.post("/orders/", order_body("D-1")).status_code == 201
    results = api.post(
        "/orders/batch/", {"orders": [order_body("D-1"), order_body("D-2"), order_body("D-2")]}
    ).json()["results"]
    assert [r["status"] for r in results] == [409, 201, 409]
    assert results[0]["error"]["code"] == "duplicate_order"
    assert results[0]["error"]["details"]["number"] == Order.objects.get(external_id="D-1").number
    assert results[2]["error"]["details"] == {"external_id": "D-2", "number": None}
    assert Order.objects.filter(external_id="D-2").count() == 1


def test_the_events_of_a_batch_order_are_those_of_a_single_order(api, shop):
    api.post("/orders/", order_body("S-1"))
    api.post("/orders/batch/", {"orders": [order_body("S-2")]})
    single, batch = (
        list(
            DomainEvent.objects.filter(order_id=Order.objects.get(external_id=external_id).pk)
            .order_by("pk")
            .values_list("code", flat=True)
        )
        for external_id in ("S-1", "S-2")
    )
    assert single == batch
    assert "order.created" in batch and "stock.reserved" in batch


def test_batch_replayed_with_its_key_gives_the_same_answer_and_takes_nothing_twice(api, shop):
    body = {"orders": [order_body("K-1"), order_body("K-2", lines=[{"sku": "NOPE", "quantity": 1}])]}
    headers = {"Idempotency-Key": "batch-0001"}
    first = api.post("/orders/batch/", body, headers=headers)
    state = db_state()
    again = api.post("/orders/batch/", body, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db_state() == state
    assert IdempotencyKey.objects.get(key="batch-0001").state == "completed"
    # the same key with another body is refused, nothing taken
    other = api.post("/orders/batch/", {"orders": [order_body("K-3")]}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert db_state() == state


def test_malformed_batches_are_refused_whole(api, shop):
    state = db_state()
    for body in ({}, {"orders": []}, {"orders": "x"}, {"orders": [order_body(f"M-{i}") for i in range(501)]}):
        response = api.post("/orders/batch/", body)
        assert response.status_code == 422, body if len(str(body)) < 200 else len(body["orders"])
        assert response.json()["error"]["code"] == "validation_error"
    assert db_state() == state


def test_batch_needs_the_orders_scope(shop, client):
    from tests.api.conftest import Api
    from tests.api.factories import api_key

    stock_only = Api(api_key(shop.channel, "stock"), client)
    assert stock_only.post("/orders/batch/", {"orders": [order_body()]}).status_code == 403


def test_statements_per_order_are_far_fewer_than_one_by_one(
    api, shop, django_assert_max_num_queries, monkeypatch
):
    from tests.api.factories import ProductFactory, stock

    products = [ProductFactory(sku=f"BULK-{i}") for i in range(10)]
    for product in products:
        stock(product, shop.lyon, 1000)
    body = {
        "orders": [
            order_body(
                f"Q-{i}",
                lines=[
                    {"sku": f"BULK-{i % 10}", "quantity": 1},
                    {"sku": f"BULK-{(i + 3) % 10}", "quantity": 2},
                ],
                customer={"email": f"c{i}@example.fr"},
            )
            for i in range(100)
        ]
    }
    # the intake's own statements: the consumers run after commit, elsewhere (a Celery worker)
    monkeypatch.setattr("common.eventlog.process_uncommitted", lambda: 0)
    # 100 orders, 200 lines: 24 statements for the whole batch (single intake: 10 to 12 each)
    with django_assert_max_num_queries(24):
        results = api.post("/orders/batch/", body).json()["results"]
    assert [r["status"] for r in results] == [201] * 100


def test_batch_answers_are_the_orders_as_read_back(api, shop):
    """The 201 results are built from the rows just written (nothing is read back): they are exactly the
    answer built from the orders read from the database, for home, relay, store, several lines and
    locations, and a price taken from the catalogue."""
    from orders.api import order_body as answer_of
    from orders.selectors import order_detail_queryset

    body = {
        "orders": [
            order_body("A-1", lines=[{"sku": "TSHIRT-M", "quantity": 12}, {"sku": "MUG", "quantity": 1}]),
            order_body(
                "A-2",
                lines=[{"sku": "MUG", "quantity": 1, "unit_price": "7.5"}],
                delivery={
                    "mode": "relay",
                    "relay_point": {
                        "carrier": "mondial_relay",
                        "id": "FR-1",
                        "name": "Tabac",
                        "postcode": "69002",
                    },
                },
                customer={"email": "Relay@Example.fr", "first_name": " Léa "},
            ),
            order_body(
                "A-3",
                lines=[{"sku": "TSHIRT-M", "quantity": 1}],
                delivery={"mode": "store", "store": "paris"},
            ),
            order_body("A-4", lines=[{"sku": "TSHIRT-M", "quantity": 1}], note="Sonner deux fois"),
        ]
    }
    results = api.post("/orders/batch/", body).json()["results"]
    assert [r["status"] for r in results] == [201] * 4, results
    for result in results:
        order = order_detail_queryset(timeline=False).get(number=result["order"]["number"])
        assert result["order"] == answer_of(order)


def test_a_batch_order_keeps_its_shipping_charge_and_payment_as_a_single_order_does(api, shop):
    # given a batch order with a shipping charge and a payment still to come, the same order sent alone,
    # and one whose payment status is unknown
    payment = {"status": "pending", "provider": "stripe", "reference": "pi_1"}
    charged = {"shipping_fee": "4.90", "payment": payment}
    body = {
        "orders": [
            order_body("P-1", lines=[{"sku": "MUG", "quantity": 1}], **charged),
            order_body("P-2", lines=[{"sku": "MUG", "quantity": 1}], payment={"status": "nonsense"}),
        ]
    }
    single = api.post("/orders/", order_body("P-3", lines=[{"sku": "MUG", "quantity": 1}], **charged))
    assert single.status_code == 201, single.json()

    # when the batch is sent
    results = api.post("/orders/batch/", body).json()["results"]

    # then the first is taken with its charge, its payment and its payment hold, as the single order was
    assert [r["status"] for r in results] == [201, 422], results
    alone = single.json()
    for key in ("shipping_fee", "shipping_vat_rate", "total_incl_vat", "payment", "holds"):
        assert results[0]["order"][key] == alone[key], key
    assert results[0]["order"]["shipping_fee"] == "4.90"
    assert results[0]["order"]["holds"]
    order = Order.objects.get(external_id="P-1")
    assert (order.shipping_fee, order.payment_status, order.payment_reference) == (
        Decimal("4.90"),
        "pending",
        "pi_1",
    )
    assert DomainEvent.objects.filter(order_id=order.pk, code="order.hold_placed").exists()
    # and the one with an unknown payment status is refused on its own
    assert not Order.objects.filter(external_id="P-2").exists()


def test_a_batch_order_carries_its_customers_names_for_the_list_search(api, shop):
    # As single intake, the batch writes the copy itself (the trigger of orders 0030 only fills a row
    # without it); a customer the batch creates and one it finds alike.
    body = {
        "orders": [
            order_body("N-1"),
            order_body(
                "N-2", customer={"email": "b@example.fr", "first_name": "Élodie", "last_name": "Brun"}
            ),
        ]
    }
    assert [r["status"] for r in api.post("/orders/batch/", body).json()["results"]] == [201, 201]
    names = dict(Order.objects.values_list("external_id", "search_first_name"))
    assert names == {"N-1": "ana", "N-2": "élodie"}
    assert Order.objects.get(external_id="N-2").search_last_name == "brun"


def test_batch_answers_for_a_kit_and_a_pre_order_are_the_orders_as_read_back(
    api, shop, django_assert_num_queries
):
    """The answer's allocations come from what the batch holds (a kit's components with their SKUs, a
    replenishment's expected date); ``result.order`` (read by the channels' pollers) still has its lines,
    allocations, products and locations without a query."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory import services as inventory_services
    from orders.api import _order_input, order_input_fast
    from orders.api import order_body as answer_of
    from orders.selectors import order_detail_queryset
    from orders.services.batch import orders_create_batch

    kit = ProductFactory(sku="DUO", name="Duo", price="29.00", vat_rate="20.0", ean="")
    inventory_services.kit_set_components(kit=kit, components=[(shop.tshirt, 1), (shop.mug, 2)])
    inventory_services.incoming_create(
        product=shop.poster, location=shop.lyon, quantity=5, expected_on=timezone.localdate() + timedelta(9)
    )
    body = {
        "orders": [
            order_body("KIT-1", lines=[{"sku": "DUO", "quantity": 1}, {"sku": "TSHIRT-M", "quantity": 2}]),
            order_body("PRE-1", lines=[{"sku": "POSTER", "quantity": 2}], allow_preorder=True),
        ]
    }
    results = api.post("/orders/batch/", body).json()["results"]
    assert [r["status"] for r in results] == [201, 201], results
    for result in results:
        order = order_detail_queryset(timeline=False).get(number=result["order"]["number"])
        assert result["order"] == answer_of(order)
    assert {a["sku"] for a in results[0]["order"]["lines"][0]["allocations"]} == {"TSHIRT-M", "MUG"}
    assert results[1]["order"]["lines"][0]["allocations"][0]["expected_on"] is not None

    # and through the service, as the pollers take it: the order's caches are filled when it is read
    inputs = [
        _order_input(
            order_input_fast(
                order_body("PRE-2", lines=[{"sku": "POSTER", "quantity": 1}], allow_preorder=True)
            )
        )
    ]
    [taken] = orders_create_batch(channel=shop.channel, orders=inputs)
    with django_assert_num_queries(0):
        order = taken.order
        answer = answer_of(order)
        assert [a.product.sku for line in order.lines.all() for a in line.allocations.all()] == ["POSTER"]
    assert answer == answer_of(order_detail_queryset(timeline=False).get(pk=order.pk))
