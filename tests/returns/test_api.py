"""The returns API: create a return or an exchange (idempotent), list and read them; refusals in the error
format."""

from decimal import Decimal

import pytest

from returns.models import Return
from tests.api.conftest import Api
from tests.api.factories import api_key
from tests.inventory.factories import ProductFactory
from tests.orders.factories import stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(world):
    stock(ProductFactory(sku="TSHIRT-L", price=Decimal("24.90")), world.lyon, 2)
    return Api(api_key(world.channel, "orders"))


def test_create_an_exchange_list_and_read_it(api, world):
    body = {
        "order": world.order.number,
        "lines": [{"line": 1, "quantity": 1, "reason": "wrong_size", "exchange_sku": "TSHIRT-L"}],
        "method": "store",
        "store": "paris",
    }

    created = api.post("/returns/", body, headers={"Idempotency-Key": "ret-1"})
    again = api.post("/returns/", body, headers={"Idempotency-Key": "ret-1"})

    assert created.status_code == 201, created.json()
    ret = created.json()
    assert ret["lines"][0]["exchange_sku"] == "TSHIRT-L" and ret["status"] == "requested"
    assert again.json() == ret and Return.objects.count() == 1
    assert [r["number"] for r in api.get("/returns/").json()] == [ret["number"]]
    assert api.get(f"/returns/{ret['number']}/").json()["order"] == world.order.number


def test_refusals_are_in_the_error_format_and_write_nothing(api, world):
    other_family = api.post(
        "/returns/",
        {
            "order": world.order.number,
            "lines": [{"line": 1, "quantity": 1, "reason": "wrong_size", "exchange_sku": "MUG"}],
            "method": "post",
        },
    )
    too_many = api.post(
        "/returns/",
        {
            "order": world.order.number,
            "lines": [{"line": 1, "quantity": 9, "reason": "wrong_size"}],
            "method": "post",
        },
    )
    unknown = api.post(
        "/returns/",
        {"order": "CMD-NOPE", "lines": [{"line": 1, "quantity": 1, "reason": "x"}], "method": "post"},
    )

    assert (
        other_family.status_code in (409, 422) and other_family.json()["error"]["code"] == "invalid_exchange"
    )
    assert too_many.json()["error"]["code"] == "invalid_lines"
    assert unknown.status_code == 404
    assert not Return.objects.exists()
    assert api.get("/returns/NOPE/").status_code == 404
