"""The phone-order form's helpers: product suggestions as the person types (SKU, EAN, name), the customer
look-up that fills the form, and the delivery options with prices and promised dates before ordering."""

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from customers.models import Address, Customer
from oms.roles import CUSTOMER_SERVICE, WAREHOUSE_STAFF
from orders.models import Order
from tests.inventory.factories import ProductFactory, ean13
from tests.orders.factories import stock as put_stock
from tests.orders.test_sourcing_promise import net, stock  # noqa: F401 - the hand-built network fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def service(client, role_users):
    client.force_login(role_users[CUSTOMER_SERVICE])
    return client


def test_product_suggestions_by_sku_ean_or_name(service, warehouse):
    tee = ProductFactory(sku="TSHIRT-M", name="T-shirt coton bio M", ean=ean13(11), price=Decimal("24.90"))
    ProductFactory(sku="TASSE-BLEU", name="Tasse en grès bleu", ean=ean13(12))
    ProductFactory(sku="TSHIRT-OLD", name="Vieux t-shirt", ean=ean13(13), active=False)
    put_stock(tee, warehouse, 7)
    url = reverse("orders:order_products")

    html = service.get(url, {"lines-0-code": "tshirt"}).content.decode()
    assert 'value="TSHIRT-M"' in html and "TASSE" not in html and "TSHIRT-OLD" not in html  # archived
    assert "T-shirt coton bio M · €24.90 · 7 available" in html

    html = service.get(url, {"lines-3-code": "grès bleu"}).content.decode()
    assert 'value="TASSE-BLEU"' in html and "0 available" in html

    html = service.get(url, {"lines-0-code": ean13(11)}).content.decode()
    assert html.count("<option") == 1 and 'value="TSHIRT-M"' in html

    assert service.get(url, {"lines-0-code": "t"}).content.decode().strip() == ""  # too short


def test_customer_lookup_by_email_name_or_phone_fills_details_and_addresses(service):
    ana = Customer.objects.create(
        email="ana.roux@example.fr", first_name="Ana", last_name="Roux", phone="06 12 34 56 78"
    )
    Address.objects.create(
        customer=ana, name="Ana Roux", line1="3 rue X", postcode="69003", city="Lyon", is_default=True
    )
    Customer.objects.create(email="louis@example.fr", first_name="Louis", last_name="Martin")
    url = reverse("orders:order_customers")
    for query in ("ana.roux@", "roux ana", "+33 6 12 34 56 78"):
        html = service.get(url, {"customer_q": query}).content.decode()
        assert "ana.roux@example.fr" in html and "louis@example.fr" not in html, query
    html = service.get(url, {"customer_q": "ana"}).content.decode()
    fill = json.loads(
        html.split('data-fill="', 1)[1].split('"', 1)[0].replace("&quot;", '"').replace("&#x27;", "'")
    )
    assert fill == {
        "id_email": "ana.roux@example.fr",
        "id_first_name": "Ana",
        "id_last_name": "Roux",
        "id_phone": "06 12 34 56 78",
        "id_company": "",
        "id_ship_name": "Ana Roux",
        "id_line1": "3 rue X",
        "id_line2": "",
        "id_postcode": "69003",
        "id_city": "Lyon",
        "id_country": "FR",
        "id_delivery_mode_0": "home",
    }
    html = service.get(url, {"customer_q": "nobody here"}).content.decode()
    assert "No customer matches" in html


def test_new_phone_order_from_the_customer_page_is_prefilled(service):
    ana = Customer.objects.create(email="ana@example.fr", first_name="Ana", last_name="Roux")
    Address.objects.create(customer=ana, line1="3 rue X", postcode="69003", city="Lyon", is_default=True)
    html = service.get(reverse("orders:order_create"), {"customer": ana.pk}).content.decode()
    assert 'value="ana@example.fr"' in html and 'value="3 rue X"' in html and 'value="69003"' in html
    assert service.get(reverse("orders:order_create"), {"customer": "x"}).status_code == 200


def test_delivery_options_with_prices_and_promised_dates_before_ordering(service, net):  # noqa: F811
    stock(net, "lyon", "A", 5)
    query = {
        "channel": "web",
        "lines-0-code": "A",
        "lines-0-quantity": "2",
        "lines-1-code": "NOPE",
        "lines-1-quantity": "1",
        "postcode": "69003",
        "country": "FR",
    }
    with time_machine.travel(datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        response = service.get(reverse("orders:order_options"), query)
    html = response.content.decode()
    assert "Home delivery · Colissimo Domicile" in html
    assert "€6.00" in html  # 5.00 excl. VAT
    assert "Wed 25 Nov to Thu 26 Nov" in html
    assert "Pickup at Magasin Paris" in html
    assert "Relay point:" in html and "no carrier service takes these parcels there." in html
    assert "Unknown or archived: NOPE." in html
    assert Order.objects.count() == 0


def test_delivery_options_need_a_product_and_say_so(service, net):  # noqa: F811
    html = service.get(reverse("orders:order_options"), {"channel": "web"}).content.decode()
    assert "Type at least one product to see the delivery options." in html
    stock(net, "lyon", "A", 5)
    html = service.get(
        reverse("orders:order_options"), {"channel": "web", "lines-0-code": "A"}
    ).content.decode()
    assert "Type the postcode to see home and relay delivery too." in html


def test_helpers_need_the_right_to_take_orders(client, role_users):
    client.force_login(role_users[WAREHOUSE_STAFF])
    for name in ("orders:order_products", "orders:order_customers", "orders:order_options"):
        assert client.get(reverse(name)).status_code == 403
