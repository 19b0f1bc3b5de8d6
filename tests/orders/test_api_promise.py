"""GET /api/v1/promise/: delivery options for a basket, before ordering."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from orders.models import Order
from orders.services.api_keys import api_key_create
from tests.orders.test_sourcing_promise import net, stock  # noqa: F401 - the hand-built network fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, net):  # noqa: F811
    _key, raw = api_key_create(channel=net["channel"], scopes=["orders"])

    def get(query: str):
        with time_machine.travel(datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
            return client.get(f"/api/v1/promise/?{query}", HTTP_AUTHORIZATION=f"Bearer {raw}")

    return get


def test_options_per_mode_with_service_price_and_window(api, net):  # noqa: F811
    stock(net, "lyon", "A", 5)
    stock(net, "store", "A", 1)

    response = api("sku=A&quantity=2&postcode=69003")

    assert response.status_code == 200
    body = response.json()
    home = [o for o in body["options"] if o["mode"] == "home"]
    assert home == [
        {
            "mode": "home",
            "carrier": "colissimo",
            "service": "Colissimo Domicile",
            "service_code": "domicile",
            "express": False,
            "price_excl_vat": "5.00",
            "price_incl_vat": "6.00",
            "earliest": "2026-11-25",
            "latest": "2026-11-26",
            "parcels": 1,
            "ship_from": ["lyon"],
            "store": None,
        }
    ]
    store = [o for o in body["options"] if o["mode"] == "store"]
    assert [(o["store"], o["ship_from"], o["earliest"]) for o in store] == [("paris", ["lyon"], "2026-11-26")]
    assert {
        "mode": "relay",
        "code": "no_service",
        "message": "No carrier service takes these parcels there.",
        "store": None,
    } in body["unavailable"]
    assert Order.objects.count() == 0


def test_out_of_stock_is_an_unavailable_option_not_an_error(api, net):  # noqa: F811
    response = api("sku=A&postcode=69003&mode=home")
    assert response.status_code == 200
    assert response.json() == {
        "options": [],
        "unavailable": [
            {
                "mode": "home",
                "code": "out_of_stock",
                "message": "Not enough stock for this basket.",
                "store": None,
            }
        ],
    }


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("postcode=69003", 422, "validation_error"),
        ("sku=NOPE&postcode=69003", 422, "unknown_sku"),
        ("sku=A&quantity=0&postcode=69003", 422, "validation_error"),
        ("sku=A&sku=B&quantity=1&postcode=69003", 422, "validation_error"),
        ("sku=A&mode=drone&postcode=69003", 422, "validation_error"),
        ("sku=A&mode=store&store=nowhere", 422, "unknown_location"),
        ("sku=A&mode=home&country=ZZ", 422, "validation_error"),
    ],
)
def test_bad_queries(api, net, query, status, code):  # noqa: F811
    response = api(query)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_promised_dates_move_with_the_clock(client, net):  # noqa: F811
    stock(net, "lyon", "A", 5)
    _key, raw = api_key_create(channel=net["channel"], scopes=["all"])
    with time_machine.travel(datetime(2026, 12, 24, 17, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        response = client.get(
            "/api/v1/promise/?sku=A&postcode=69003&mode=home", HTTP_AUTHORIZATION=f"Bearer {raw}"
        )
    assert response.json()["options"][0]["earliest"] == date(2026, 12, 29).isoformat()
