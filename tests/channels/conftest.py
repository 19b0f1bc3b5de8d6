"""Fixtures of the connector tests: channels of each kind served by lyon (and the store paris), products
with stock, payloads in the shapes the platforms document."""

import base64
import copy
import hashlib
import hmac
import json

import pytest

from channels.models import ChannelConnection
from orders.models import Channel
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory, stock

SECRET = "whsec-test-1234"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def lyon(db):
    return LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")


@pytest.fixture
def paris(db):
    return LocationFactory(code="paris", name="Magasin Paris", kind="store", city="Paris", postcode="75004")


@pytest.fixture
def products(lyon):
    tshirt = ProductFactory(sku="TSHIRT-M", name="T-shirt M", price="19.90", vat_rate="20.0")
    mug = ProductFactory(sku="MUG", name="Mug", price="8.50", vat_rate="5.5")
    stock(tshirt, lyon, 10)
    stock(mug, lyon, 3)
    return {"TSHIRT-M": tshirt, "MUG": mug}


def _channel(kind, code, lyon, paris, **connection):
    channel = ChannelFactory(code=code, name=f"Boutique {kind}", kind=kind, locations=[lyon, paris])
    connection.setdefault(
        "delivery_modes",
        {"Colissimo": "home", "Retrait en magasin": "store:paris", "Mondial Relay": "relay:mondial_relay"},
    )
    ChannelConnection.objects.create(channel=channel, webhook_secret=SECRET, **connection)
    return channel


@pytest.fixture
def shopify_channel(lyon, paris, products):
    return _channel(
        Channel.Kind.SHOPIFY,
        "shopify",
        lyon,
        paris,
        base_url="demo-shop.myshopify.com",
        access_token="shpat_test",
        remote_location_id="gid://shopify/Location/777",
    )


@pytest.fixture
def woo_channel(lyon, paris, products):
    return _channel(
        Channel.Kind.WOOCOMMERCE,
        "woo",
        lyon,
        paris,
        base_url="https://woo.example.fr",
        api_key="ck_test",
        api_secret="cs_test",
    )


@pytest.fixture
def presta_channel(lyon, paris, products):
    return _channel(
        Channel.Kind.PRESTASHOP,
        "presta",
        lyon,
        paris,
        base_url="https://presta.example.fr",
        access_token="PSKEY123",
        poll_orders=True,
        delivery_modes={"Colissimo": "home"},
    )


# An orders/create payload in the shape of shopify.dev's example (trimmed to what the OMS reads).
SHOPIFY_ORDER = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "name": "#1001",
    "email": "jon@example.fr",
    "currency": "EUR",
    "financial_status": "paid",
    "taxes_included": True,
    "total_price": "53.20",
    "note": None,
    "note_attributes": [],
    "customer": {
        "id": 115310627314723954,
        "email": "jon@example.fr",
        "first_name": "Jon",
        "last_name": "Doe",
    },
    "line_items": [
        {
            "id": 866550311766439020,
            "sku": "TSHIRT-M",
            "title": "T-shirt",
            "quantity": 2,
            "price": "19.90",
            "grams": 200,
            "requires_shipping": True,
            "tax_lines": [],
            "discount_allocations": [],
        },
        {
            "id": 141249953214522974,
            "sku": "MUG",
            "title": "Mug",
            "quantity": 1,
            "price": "8.50",
            "grams": 350,
            "requires_shipping": True,
            "tax_lines": [],
            "discount_allocations": [],
        },
    ],
    "shipping_address": {
        "first_name": "Jon",
        "last_name": "Doe",
        "name": "Jon Doe",
        "company": None,
        "address1": "3 rue de la République",
        "address2": "Bât. B",
        "zip": "69002",
        "city": "Lyon",
        "country": "France",
        "country_code": "FR",
        "phone": "+33611223344",
    },
    "billing_address": None,
    "shipping_lines": [
        {"id": 271878346596884015, "title": "Colissimo", "code": "colissimo", "price": "4.90"}
    ],
}


def shopify_order(**changes) -> dict:
    payload = copy.deepcopy(SHOPIFY_ORDER)
    payload.update(changes)
    return payload


# A WooCommerce REST order resource (woocommerce.github.io/woocommerce-rest-api-docs, "Order properties").
WOO_ORDER = {
    "id": 727,
    "number": "727",
    "status": "processing",
    "currency": "EUR",
    "date_modified_gmt": "2026-03-02T10:00:00",
    "customer_note": "",
    "billing": {
        "first_name": "Ana",
        "last_name": "Roux",
        "company": "",
        "address_1": "5 quai Rambaud",
        "address_2": "",
        "city": "Lyon",
        "postcode": "69002",
        "country": "FR",
        "email": "ana@example.fr",
        "phone": "+33600000000",
    },
    "shipping": {
        "first_name": "Ana",
        "last_name": "Roux",
        "company": "",
        "address_1": "5 quai Rambaud",
        "address_2": "",
        "city": "Lyon",
        "postcode": "69002",
        "country": "FR",
    },
    "line_items": [
        {
            "id": 315,
            "name": "Mug",
            "product_id": 93,
            "quantity": 2,
            "subtotal": "14.17",
            "subtotal_tax": "0.78",
            "total": "14.17",
            "total_tax": "0.78",
            "sku": "MUG",
            "price": 7.085,
        }
    ],
    "shipping_lines": [{"id": 317, "method_title": "Colissimo", "method_id": "flat_rate", "total": "4.90"}],
    "meta_data": [],
}


def woo_order(**changes) -> dict:
    payload = copy.deepcopy(WOO_ORDER)
    payload.update(changes)
    return payload


def post_shopify(
    client, channel_code, payload, *, topic="orders/create", webhook_id="wh-1", secret=SECRET, signature=None
):
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/shopify/{channel_code}/",
        data=body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(body, secret),
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
            "X-Shopify-Triggered-At": "2026-03-02T10:00:00Z",
        },
    )


def post_woo(client, channel_code, payload, *, topic="order.created", delivery="d-1", secret=SECRET):
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/woocommerce/{channel_code}/",
        data=body,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": sign(body, secret),
            "X-WC-Webhook-Delivery-ID": delivery,
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Source": "https://woo.example.fr/",
        },
    )
