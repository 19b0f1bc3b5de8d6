"""Fixtures of the integrations' tests: a channel ``web`` selling TSHIRT-M from lyon, its API key, and a
webhook receiver mocked with respx that records every request."""

import json

import pytest
import respx
from httpx import Response

from integrations.webhooks.services import endpoint_create
from tests.api.factories import ChannelFactory, ProductFactory, api_key, channel_serves, stock
from tests.inventory.factories import LocationFactory
from tests.orders.factories import order_input

HOOK = "https://crm.example.com/oms-hook"
SECRET = "a-long-random-secret-of-ours"


@pytest.fixture
def shop(db):
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    channel = ChannelFactory(code="web", name="Boutique web")
    channel_serves(channel, lyon)
    product = ProductFactory(sku="TSHIRT-M", name="T-shirt M", price="19.90", vat_rate="20.0")
    stock(product, lyon, 50)
    return {"channel": channel, "lyon": lyon, "product": product, "key": api_key(channel, "all")}


class Receiver:
    """The receiving side: the requests it got, and what it answers next."""

    def __init__(self, router: respx.Router):
        self.router = router
        self.route = router.post(HOOK)
        self.answers: list = []
        self.route.side_effect = self._answer

    def _answer(self, request):
        answer = self.answers.pop(0) if self.answers else Response(200, text="ok")
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def requests(self):
        return [call.request for call in self.route.calls]

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def receiver():
    with respx.mock(assert_all_called=False) as router:
        yield Receiver(router)


@pytest.fixture
def endpoint(db, django_user_model):
    owner = django_user_model.objects.create_user("owner", email="owner@example.fr", password="x")
    return endpoint_create(
        url=HOOK,
        events=["order.created", "order.status_changed", "order.cancelled", "customer.created"],
        secret=SECRET,
        owner=owner,
    )


def place(shop, external_id="SHOP-1", email="ana@example.fr", quantity=1):
    from orders.services.intake import order_create

    data = order_input(lines=[("TSHIRT-M", quantity)], external_id=external_id, email=email)
    return order_create(channel=shop["channel"], data=data)
