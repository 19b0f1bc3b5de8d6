"""The lookup form ``/track/``: order number and email lead to the tracking page; the answer never tells
whether an order exists; attempts are limited per IP address and per order number."""

import pytest
from django.core.cache import cache

from orders.models import Order
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
GENERIC = "We could not find an order with this number and this email address."


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def order():
    lyon = LocationFactory(code="lyon")
    return OrderFactory(
        number="CMD-2026-000077",
        customer=CustomerFactory(email="Ana.Roux@example.fr"),
        lines=[(ProductFactory(), 1, lyon)],
    )


def test_form_page(client):
    response = client.get("/track/", **EN)

    assert response.status_code == 200
    assert 'name="number"' in response.content.decode() and 'name="email"' in response.content.decode()
    assert response["X-Robots-Tag"].startswith("noindex")
    # A form page: the referrer stays on this site (browsers send "Origin: null" from no-referrer pages,
    # which the CSRF check refuses).
    assert response["Referrer-Policy"] == "same-origin"


def test_number_and_email_lead_to_the_tracking_page(client, order):
    response = client.post("/track/", {"number": " cmd-2026-000077 ", "email": "ana.roux@EXAMPLE.fr"}, **EN)

    assert response.status_code == 302
    assert response["Location"] == f"/track/{order.tracking_token}/"


@pytest.mark.parametrize(
    "data",
    [
        {"number": "CMD-2026-000077", "email": "someone.else@example.fr"},  # real order, wrong email
        {"number": "CMD-2099-999999", "email": "ana.roux@example.fr"},  # real email, no such order
        {"number": "CMD-2099-999999", "email": "nobody@example.fr"},
    ],
)
def test_same_answer_whether_the_order_exists_or_not(client, order, data):
    response = client.post("/track/", data, **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert GENERIC in html
    assert order.tracking_token not in html
    assert f'value="{data["number"]}"' in html  # what was typed is kept


def test_other_customers_order_needs_its_own_email(client, order):
    other = OrderFactory(customer=CustomerFactory(email="other@example.fr"))

    response = client.post("/track/", {"number": other.number, "email": "ana.roux@example.fr"}, **EN)

    assert response.status_code == 200 and other.tracking_token not in response.content.decode()


def test_invalid_email_is_a_field_error(client, order):
    response = client.post("/track/", {"number": "CMD-2026-000077", "email": "not-an-email"}, **EN)

    assert response.status_code == 200
    assert response.context["form"].errors["email"]


def test_too_many_attempts_on_one_order_number_is_429(client, order, settings):
    settings.PORTAL_LOOKUP_RATE_PER_ORDER = "3/h"
    settings.PORTAL_LOOKUP_RATE_PER_IP = "100/h"
    for n in range(3):
        # From three different addresses: the limit is on the order number.
        response = client.post(
            "/track/",
            {"number": order.number, "email": f"guess{n}@example.fr"},
            REMOTE_ADDR=f"10.0.0.{n}",
            **EN,
        )
        assert response.status_code == 200

    response = client.post(
        "/track/", {"number": order.number, "email": "ana.roux@example.fr"}, REMOTE_ADDR="10.0.0.9", **EN
    )

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert order.tracking_token not in response.content.decode()


def test_too_many_attempts_from_one_address_is_429(client, order, settings):
    settings.PORTAL_LOOKUP_RATE_PER_IP = "3/h"
    settings.PORTAL_LOOKUP_RATE_PER_ORDER = "100/h"
    for n in range(3):
        data = {"number": f"CMD-X-{n}", "email": "a@example.fr"}
        client.post("/track/", data, REMOTE_ADDR="10.1.1.1", **EN)

    response = client.post(
        "/track/", {"number": order.number, "email": "ana.roux@example.fr"}, REMOTE_ADDR="10.1.1.1", **EN
    )
    assert response.status_code == 429

    other_ip = client.post(
        "/track/", {"number": order.number, "email": "ana.roux@example.fr"}, REMOTE_ADDR="10.1.1.2", **EN
    )
    assert other_ip.status_code == 302


def test_lookup_needs_csrf(order):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/track/", {"number": order.number, "email": "ana.roux@example.fr"}
    )

    assert response.status_code == 403
    assert Order.objects.count() == 1
