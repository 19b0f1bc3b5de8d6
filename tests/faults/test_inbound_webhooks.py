"""Inbound webhooks (a shop's deliveries to /webhooks/) under gunicorn with a real Redis and a real Celery
worker: a delivery answered 200 is stored and becomes an order, through the one-kick hand-off when Redis
is up, and through beat's sweep when Redis was down as it arrived; each delivery id once."""

import base64
import hashlib
import hmac
import json
import uuid

import pytest
from django.utils import timezone

from channels.models import ChannelConnection, WebhookDelivery
from common import jobs
from orders.models import Channel, Order
from tests.api.factories import ChannelFactory, ProductFactory, channel_serves, stock
from tests.inventory.factories import LocationFactory

from .conftest import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SECRET = "fault-tests-shopify-secret"


@pytest.fixture
def shop(db):
    """A Shopify channel selling TSHIRT-M (10 at Lyon). Its code is new in each test: the web process keeps
    a channel's id and secret a few seconds, and each test starts from an emptied database."""
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    channel = ChannelFactory(code=f"shop-{uuid.uuid4().hex[:8]}", name="Shopify", kind=Channel.Kind.SHOPIFY)
    channel_serves(channel, lyon)
    stock(ProductFactory(sku="TSHIRT-M", name="T-shirt M", price="19.90", vat_rate="20.0"), lyon, 10)
    ChannelConnection.objects.create(
        channel=channel,
        webhook_secret=SECRET,
        base_url="shop.myshopify.com",
        delivery_modes={"Colissimo": "home"},
    )
    return channel


def deliver(web, channel, n: int, *, webhook_id: str | None = None):
    body = json.dumps(
        {
            "id": 5550000 + n,
            "name": f"#F{n}",
            "email": f"buyer{n}@example.fr",
            "currency": "EUR",
            "financial_status": "paid",
            "taxes_included": True,
            "total_price": "24.80",
            "customer": {"id": n, "email": f"buyer{n}@example.fr", "first_name": "Ana", "last_name": "Roux"},
            "line_items": [
                {
                    "id": 9000 + n,
                    "sku": "TSHIRT-M",
                    "title": "T-shirt",
                    "quantity": 1,
                    "price": "19.90",
                    "grams": 200,
                    "requires_shipping": True,
                    "tax_lines": [],
                    "discount_allocations": [],
                }
            ],
            "shipping_address": {
                "first_name": "Ana",
                "last_name": "Roux",
                "name": "Ana Roux",
                "company": None,
                "address1": "3 rue de la République",
                "address2": "",
                "zip": "69002",
                "city": "Lyon",
                "country": "France",
                "country_code": "FR",
                "phone": "+33611223344",
            },
            "billing_address": None,
            "shipping_lines": [{"id": 1, "title": "Colissimo", "code": "colissimo", "price": "4.90"}],
        }
    ).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    with web.client() as client:
        return client.post(
            f"/webhooks/shopify/{channel.code}/",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Webhook-Id": webhook_id or f"wh-{n}",
            },
        )


def test_deliveries_answered_200_become_orders_through_one_kick_and_a_retry_is_taken_once(
    web, shop, broker, start_worker
):
    # given: Redis and a worker are up
    start_worker("inbound")
    mark = web.mark()

    # when: three deliveries, and Shopify's retry of the first
    answers = [deliver(web, shop, n) for n in range(3)]
    retry = deliver(web, shop, 0)

    # then: all answered 200, the retry as a duplicate; each delivery becomes one order
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (retry.status_code, retry.json()["duplicate"]) == (200, True)
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="processed").count() == 3, timeout=60, what="orders"
    )
    assert Order.objects.filter(channel=shop).count() == 3
    assert WebhookDelivery.objects.count() == 3
    assert web.server_errors(mark) == []


def test_a_delivery_answered_while_redis_is_down_is_stored_and_made_an_order_by_the_sweep(
    web, shop, broker, start_worker
):
    # given: Redis (cache and broker) is down as the delivery arrives
    broker.stop()
    mark = web.mark()

    # when
    answer = deliver(web, shop, 7)

    # then: answered 200 and stored, due for the sweep; nothing processed yet
    assert answer.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.job_due_at is not None) == ("received", True)
    assert web.server_errors(mark) == []

    # when: Redis is back, a worker runs, beat's job sweep comes once the first wait has passed
    broker.start()
    start_worker("inbound")
    jobs._broker_down_until = 0.0
    wait_for(lambda: delivery.job_due_at <= timezone.now(), timeout=10, what="the first wait")
    assert jobs.sweep()["channels.delivery"] == 1

    # then: the delivery is made an order, once
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="processed").exists(), timeout=60, what="the order"
    )
    assert Order.objects.filter(channel=shop, external_id="5550007").count() == 1
