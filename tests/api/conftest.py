"""Fixtures of the REST API tests: a channel ``web`` served by two warehouses and a store, products with
stock, an API key, and a small client that sends ``Authorization: Bearer <key>``."""

import json
from dataclasses import dataclass

import pytest
from django.test import Client

from common.models import DomainEvent
from customers.models import Customer
from inventory.models import Allocation, IncomingStock, Product, StockLevel, StockMovement
from orders.models import IdempotencyKey, Order, OrderLine
from tests.inventory.factories import LocationFactory

from .factories import ChannelFactory, ProductFactory, api_key, channel_serves, stock

API = "/api/v1"


class Api:
    """The API as a channel sees it: JSON in, JSON out, the key in the Authorization header."""

    def __init__(self, key: str | None = None, client: Client | None = None):
        self.key = key
        self.client = client or Client()

    def _headers(self, headers: dict | None) -> dict:
        out = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        out.update(headers or {})
        return out

    def get(self, path: str, params=None, headers: dict | None = None):
        return self.client.get(f"{API}{path}", params or {}, headers=self._headers(headers))

    def post(self, path: str, body=None, *, raw: str | bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            f"{API}{path}", data, content_type="application/json", headers=self._headers(headers)
        )

    def as_key(self, key: str | None) -> "Api":
        return Api(key, self.client)


@dataclass
class Shop:
    channel: object
    lyon: object
    lille: object
    paris: object
    tshirt: object
    mug: object
    poster: object
    key: str


@pytest.fixture
def shop(db):
    """Channel ``web``: lyon (priority 0), lille (1), the store paris (2). TSHIRT-M 10 at lyon and 5 at
    lille; MUG 3 at lyon; POSTER none (its replenishments are made by the tests)."""
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    lille = LocationFactory(code="lille", name="Entrepôt Lille", city="Lesquin", postcode="59810")
    paris = LocationFactory(
        code="paris", name="Magasin Paris", kind="store", city="Paris", postcode="75004", is_pickup_point=True
    )
    channel = ChannelFactory(code="web", name="Boutique web")
    channel_serves(channel, lyon, lille, paris)
    tshirt = ProductFactory(sku="TSHIRT-M", name="T-shirt M", price="19.90", vat_rate="20.0")
    mug = ProductFactory(sku="MUG", name="Mug", price="8.50", vat_rate="5.5")
    poster = ProductFactory(sku="POSTER", name="Poster", price="12.00", vat_rate="10.0")
    stock(tshirt, lyon, 10)
    stock(tshirt, lille, 5)
    stock(mug, lyon, 3)
    for p in (tshirt, mug, poster):
        p.refresh_from_db()
    return Shop(channel, lyon, lille, paris, tshirt, mug, poster, api_key(channel, "all"))


@pytest.fixture
def api(shop) -> Api:
    return Api(shop.key)


def order_body(external_id: str = "SHOP-1001", lines=None, **extra) -> dict:
    """The order body of DESIGN.md."""
    body = {
        "external_id": external_id,
        "customer": {
            "email": "a@example.fr",
            "first_name": "Ana",
            "last_name": "Roux",
            "phone": "+33612345678",
        },
        "delivery": {
            "mode": "home",
            "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon", "country": "FR"},
        },
        "lines": lines if lines is not None else [{"sku": "TSHIRT-M", "quantity": 2, "unit_price": "19.90"}],
    }
    body.update(extra)
    return body


def db_state() -> dict:
    """Everything an API call may write: a failed call must leave all of it as it was."""
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "allocations": sorted(Allocation.objects.values_list("line_id", "location_id", "quantity", "kind")),
        "events": DomainEvent.objects.count(),
        "movements": StockMovement.objects.count(),
        "levels": sorted(StockLevel.objects.values_list("product_id", "location_id", "on_hand", "reserved")),
        "incoming": sorted(
            IncomingStock.objects.values_list("pk", "quantity", "reserved", "status", "expected_on")
        ),
        "idempotency_keys": sorted(IdempotencyKey.objects.values_list("key", "state")),
        "products": sorted(Product.objects.values_list("sku", "ean")),
        "customers": Customer.objects.count(),
    }


def level(product, location) -> tuple[int, int]:
    lv = StockLevel.objects.filter(product=product, location=location).first()
    return (lv.on_hand, lv.reserved) if lv else (0, 0)
