"""The order as the API answers it, built by hand (``orders.api.order_body``) for speed: it must say exactly
what DRF's ``OrderOutput`` says, key for key and string for string, for every shape of order."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone, translation

from inventory import services as inv
from inventory.models import Product
from inventory.services.kits import kit_set_components
from orders.api import OrderOutput, _jsonable, order_body
from orders.models import Channel, ChannelLocation, Order
from orders.selectors import order_detail_queryset
from orders.services.api_keys import api_key_create

HOME = {"mode": "home", "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon", "country": "FR"}}
RELAY = {
    "mode": "relay",
    "relay_point": {
        "carrier": "mondial_relay",
        "id": "FR-012345",
        "name": "Tabac du Parc",
        "line1": "2 place Bellecour",
        "postcode": "69002",
        "city": "Lyon",
        "latitude": "45.757800",
        "longitude": "4.832000",
    },
}
STORE = {"mode": "store", "store": "paris"}

CASES = {
    "home, price given, two lines": {"delivery": HOME, "lines": [("A", 2, "19.90"), ("B", 1, None)]},
    "relay point with coordinates": {"delivery": RELAY, "lines": [("A", 1, None)]},
    "store pickup": {"delivery": STORE, "lines": [("B", 1, None)]},
    "pre-order on a replenishment": {"delivery": HOME, "lines": [("C", 4, None)], "allow_preorder": True},
    "kit": {"delivery": HOME, "lines": [("KIT", 1, "30.00")]},
    "paid, with a shipping charge": {
        "delivery": HOME,
        "lines": [("A", 1, None)],
        "shipping_fee": "4.90",
        "payment": {
            "status": "paid",
            "provider": "stripe",
            "reference": "pi_1",
            "paid_at": "2026-12-04T10:00:00Z",
        },
    },
    "authorised": {
        "delivery": HOME,
        "lines": [("A", 1, None)],
        "payment": {"status": "authorised", "amount": "10.00", "provider": "mollie", "reference": "tr_1"},
    },
    "payment pending (a hold)": {
        "delivery": HOME,
        "lines": [("B", 2, None)],
        "payment": {"status": "pending"},
    },
}


@pytest.fixture
def client(db, warehouse, store):
    translation.activate("en")
    channel = Channel.objects.create(code="web", name="Web")
    for priority, location in enumerate([warehouse, store]):
        ChannelLocation.objects.create(channel=channel, location=location, priority=priority)
    products = {}
    for sku, price in (("A", "10.00"), ("B", "7.25"), ("C", "3.10"), ("P1", "5.00"), ("P2", "6.00")):
        products[sku] = inv.product_create(
            data={"sku": sku, "name": f"Article {sku}", "price": Decimal(price), "vat_rate": Decimal("20.0")}
        )
    for sku in ("A", "B", "P1", "P2"):
        inv.stock_receive(product=products[sku], location=warehouse, quantity=20)
        inv.stock_receive(product=products[sku], location=store, quantity=5)
    inv.stock_receive(product=products["C"], location=warehouse, quantity=1)
    inv.incoming_create(
        product=products["C"],
        location=warehouse,
        quantity=10,
        expected_on=timezone.localdate() + timedelta(days=6),
    )
    kit = inv.product_create(
        data={"sku": "KIT", "name": "Coffret", "price": Decimal("30.00"), "vat_rate": Decimal("5.5")}
    )
    kit_set_components(
        kit=Product.objects.get(pk=kit.pk), components=[(products["P1"], 2), (products["P2"], 1)]
    )
    _, raw = api_key_create(channel=channel, scopes=["orders"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _body(name: str, case: dict) -> dict:
    body = {
        "external_id": f"X-{name}",
        "customer": {"email": "ana@example.fr", "first_name": "Ana", "last_name": "Roux"},
        "delivery": case["delivery"],
        "lines": [
            {"sku": sku, "quantity": q, **({"unit_price": price} if price else {})}
            for sku, q, price in case["lines"]
        ],
    }
    for extra in ("allow_preorder", "shipping_fee", "payment"):
        if extra in case:
            body[extra] = case[extra]
    return body


@pytest.mark.parametrize("name", list(CASES))
def test_order_body_says_what_order_output_says(client, name):
    # when: the order is taken through the API, with and without a key
    response = client.post(
        "/api/v1/orders/",
        data=_body(name, CASES[name]),
        content_type="application/json",
        headers={"Idempotency-Key": f"k-{name}"},
    )
    assert response.status_code == 201, response.content
    # then: the answer (built from memory) is DRF's serialisation of the order read back (a relay point's
    # keys come back from JSONB in another order: compared as values)
    order = order_detail_queryset(timeline=False).get(external_id=f"X-{name}")
    reference = _jsonable(OrderOutput(order).data)
    assert response.json() == reference
    # and the builder on the order read back says the same, byte for byte (keys in the same order)
    assert json.dumps(order_body(order)) == json.dumps(reference)


def test_the_shapes_cover_what_they_claim(client):
    for name, case in CASES.items():
        client.post("/api/v1/orders/", data=_body(name, case), content_type="application/json")
    orders = {o.external_id: o for o in order_detail_queryset(timeline=False)}
    assert orders["X-store pickup"].pickup_location.code == "paris"
    assert orders["X-relay point with coordinates"].relay_point["latitude"] == "45.757800"
    assert any(
        a.incoming_id
        for line in orders["X-pre-order on a replenishment"].lines.all()
        for a in line.allocations.all()
    )
    assert orders["X-kit"].lines.get().components
    assert orders["X-payment pending (a hold)"].holds == ["payment"]
    assert orders["X-paid, with a shipping charge"].paid_at is not None
    assert Order.objects.count() == len(CASES)


@pytest.mark.parametrize("field", ["_MONEY", "_PRICE", "_RATE"])
def test_a_decimal_is_written_as_drf_writes_it(field):
    # given the body's decimal fields, and values at their places, off them, zeros, signs and out of range
    import random

    from orders import api

    drf = getattr(api, field)
    values = [
        Decimal(text)
        for text in (
            "0",
            "0.00",
            "0.0",
            "-0",
            "-0.00",
            "5.5",
            "19.90",
            "20.0",
            "1.25",
            "0.001",
            "100.000",
            "1E+2",
            "99999999.99",
            "123456789.12",
            "9999999999.99",
            "99999999999.99",
            "-3.10",
            "NaN",
            "Infinity",
        )
    ]
    rng = random.Random(18)
    values += [Decimal(rng.randint(-(10**13), 10**13)).scaleb(-rng.randint(0, 4)) for _ in range(2000)]

    def written(convert, value):
        try:
            return convert(value)
        except Exception as exc:  # noqa: BLE001 - DRF refuses what does not fit: so must the fast path
            return type(exc)

    # then the fast path says what DRF's to_representation says, or refuses the same
    for value in values:
        assert written(lambda v: api._decimal(drf, v), value) == written(drf.to_representation, value), value
