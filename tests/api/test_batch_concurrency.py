"""Batch intake under real concurrency: batches racing each other and single orders for the same units,
in threads with their own database connections started together. PostgreSQL only."""

import random
from collections import Counter

import pytest
from django.core.management import call_command

from inventory.models import Allocation, StockLevel
from orders.models import Order

from .factories import ProductFactory, stock
from .test_concurrency import body, post_order, race, shop  # noqa: F401 - the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def post_batch(client, key: str, orders: list[dict], idempotency_key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(
        "/api/v1/orders/batch/", {"orders": orders}, content_type="application/json", headers=headers
    )


def test_40_orders_in_4_racing_batches_for_10_units_never_oversell(shop):  # noqa: F811
    channel, lyon, lille, key = shop
    product = ProductFactory(sku="HOT")
    stock(product, lyon, 6)
    stock(product, lille, 4)
    batches = [
        [body(f"B{b}-{i}", [{"sku": "HOT", "quantity": 1}], email=f"b{b}-{i}@example.fr") for i in range(10)]
        for b in range(4)
    ]

    results = race(4, lambda client, i: post_batch(client, key, batches[i]))

    assert all(status == 200 for status, _ in results)
    answers = [r for _, answer in results for r in answer["results"]]
    assert len(answers) == 40
    statuses = Counter(r["status"] for r in answers)
    assert statuses == {201: 10, 409: 30}
    assert {r["error"]["code"] for r in answers if r["status"] == 409} == {"out_of_stock"}
    assert Order.objects.count() == 10
    levels = dict(StockLevel.objects.filter(product=product).values_list("location__code", "reserved"))
    assert levels == {"lyon": 6, "lille": 4}
    assert sum(Allocation.objects.values_list("quantity", flat=True)) == 10
    call_command("stock_audit")


def test_batches_and_single_orders_racing_with_split_plans_never_deadlock(shop):  # noqa: F811
    channel, lyon, lille, key = shop
    a, b, c = ProductFactory(sku="A"), ProductFactory(sku="B"), ProductFactory(sku="C")
    for product, at_lyon, at_lille in ((a, 25, 25), (b, 10, 50), (c, 40, 10)):
        stock(product, lyon, at_lyon)
        stock(product, lille, at_lille)
    rng = random.Random(18)

    def order(tag: str) -> dict:
        lines = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}, {"sku": "C", "quantity": 1}]
        rng.shuffle(lines)
        return body(tag, lines, email=f"{tag.lower()}@example.fr")

    batches = [[order(f"X{t}-{i}") for i in range(5)] for t in range(4)]
    singles = [order(f"S-{t}") for t in range(6)]

    def request(client, i):
        if i < 4:
            return post_batch(client, key, batches[i])
        return post_order(client, key, singles[i - 4])

    results = race(10, request)

    taken = [r for s, a in results[:4] for r in a["results"] if r["status"] == 201]
    assert len(taken) == 20
    assert all(status == 201 for status, _ in results[4:])
    reserved = Counter()
    for sku, quantity in StockLevel.objects.values_list("product__sku", "reserved"):
        reserved[sku] += quantity
    assert reserved == {"A": 26, "B": 26, "C": 26}
    call_command("stock_audit")


def test_a_batch_sent_10_times_at_once_with_its_key_is_taken_once(shop):  # noqa: F811
    channel, lyon, lille, key = shop
    stock(ProductFactory(sku="TEE"), lyon, 100)
    orders = [body(f"K-{i}", [{"sku": "TEE", "quantity": 1}], email=f"k{i}@example.fr") for i in range(5)]

    results = race(10, lambda client, i: post_batch(client, key, orders, idempotency_key="batch-key"))

    assert Order.objects.count() == 5
    done = [answer for status, answer in results if status == 200]
    assert done
    assert all(answer == done[0] for answer in done)
    assert [r["status"] for r in done[0]["results"]] == [201] * 5
    for status, answer in results:
        if status != 200:
            assert (status, answer["error"]["code"]) == (409, "idempotency_key_in_progress")
    assert StockLevel.objects.get(location=lyon).reserved == 5
    call_command("stock_audit")
