"""Stock is never oversold and an order is taken exactly once, under real concurrency: threads, each with
its own database connection, through the whole HTTP stack (a Django test Client per thread), started
together by a barrier. PostgreSQL only (row locks, concurrent transactions)."""

import json
import random
import threading
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from inventory.models import Allocation, StockLevel
from orders.models import IdempotencyKey, Order
from tests.inventory.factories import LocationFactory

from .factories import ChannelFactory, ProductFactory, api_key, channel_serves, stock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(n: int, request) -> list:
    """Run ``request(client, i)`` in ``n`` threads at once; return each thread's (status, json) or the
    exception it raised (a deadlock, a 500 re-raised by the test client...)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            client = Client()
            connection.ensure_connection()  # connect before the start, so the requests really overlap
            barrier.wait(timeout=60)
            response = request(client, i)
            results[i] = (response.status_code, response.json())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,), name=f"buyer-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} request(s) crashed, first: {errors[0]!r}"
    return results


def post_order(client: Client, key: str, body: dict, idempotency_key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post("/api/v1/orders/", body, content_type="application/json", headers=headers)


def body(external_id: str, lines: list[dict], email: str = "a@example.fr") -> dict:
    return {
        "external_id": external_id,
        "customer": {"email": email, "first_name": "Ana", "last_name": "Roux"},
        "delivery": {"mode": "home", "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon"}},
        "lines": lines,
    }


@pytest.fixture
def shop():
    lyon = LocationFactory(code="lyon")
    lille = LocationFactory(code="lille")
    channel = ChannelFactory(code="web")
    channel_serves(channel, lyon, lille)
    return channel, lyon, lille, api_key(channel, "orders")


def test_50_buyers_race_for_10_units(shop):
    channel, lyon, lille, key = shop
    product = ProductFactory(sku="HOT")
    stock(product, lyon, 6)
    stock(product, lille, 4)

    results = race(
        50,
        lambda client, i: post_order(
            client, key, body(f"B-{i}", [{"sku": "HOT", "quantity": 1}], email=f"buyer{i}@example.fr")
        ),
    )

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 409: 40}
    assert {b["error"]["code"] for s, b in results if s == 409} == {"out_of_stock"}
    assert Order.objects.count() == 10
    levels = dict(StockLevel.objects.filter(product=product).values_list("location__code", "reserved"))
    assert levels == {"lyon": 6, "lille": 4}
    assert sum(Allocation.objects.values_list("quantity", flat=True)) == 10
    call_command("stock_audit")


def test_20_retries_with_one_idempotency_key_make_one_order(shop):
    channel, lyon, lille, key = shop
    stock(ProductFactory(sku="TEE"), lyon, 50)
    order = body("K-1", [{"sku": "TEE", "quantity": 2}])

    results = race(20, lambda client, i: post_order(client, key, order, idempotency_key="one-key"))

    assert Order.objects.count() == 1
    number = Order.objects.get().number
    for status, answer in results:
        if status == 201:
            assert answer["number"] == number
        else:
            assert (status, answer["error"]["code"]) == (409, "idempotency_key_in_progress")
    assert any(status == 201 for status, _ in results)
    claim = IdempotencyKey.objects.get()
    assert (claim.state, claim.response_status, json.loads(claim.response_body)["number"]) == (
        "completed",
        201,
        number,
    )
    assert StockLevel.objects.get(location=lyon).reserved == 2
    call_command("stock_audit")


def test_20_deliveries_of_one_external_id_make_one_order(shop):
    channel, lyon, lille, key = shop
    stock(ProductFactory(sku="TEE"), lyon, 50)
    order = body("SHOP-7", [{"sku": "TEE", "quantity": 1}])

    results = race(20, lambda client, i: post_order(client, key, order))

    assert Order.objects.count() == 1
    number = Order.objects.get().number
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 19}
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "duplicate_order"
            assert answer["error"]["details"] == {"external_id": "SHOP-7", "number": number}
    assert StockLevel.objects.get(location=lyon).reserved == 1
    call_command("stock_audit")


def test_30_orders_of_the_same_skus_in_random_order_never_deadlock(shop):
    channel, lyon, lille, key = shop
    # Enough for everyone, but spread so that plans differ: some orders ship from lyon, some from lille,
    # some are split between both.
    a, b, c = ProductFactory(sku="A"), ProductFactory(sku="B"), ProductFactory(sku="C")
    for product, at_lyon, at_lille in ((a, 25, 25), (b, 10, 50), (c, 40, 10)):
        stock(product, lyon, at_lyon)
        stock(product, lille, at_lille)
    rng = random.Random(20260)
    orders = []
    for i in range(30):
        lines = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}, {"sku": "C", "quantity": 1}]
        rng.shuffle(lines)
        orders.append(body(f"D-{i}", lines, email=f"d{i}@example.fr"))

    results = race(30, lambda client, i: post_order(client, key, orders[i]))

    assert Counter(status for status, _ in results) == {201: 30}
    reserved = Counter()
    for product_sku, _location, quantity in StockLevel.objects.values_list(
        "product__sku", "location__code", "reserved"
    ):
        reserved[product_sku] += quantity
    assert reserved == {"A": 30, "B": 30, "C": 30}
    locations_used = {
        alloc["location"] for _, o in results for line in o["lines"] for alloc in line["allocations"]
    }
    assert locations_used == {"lyon", "lille"}
    call_command("stock_audit")
