"""Customer service's customer pages: list and search, the customer's page, notes, the sign-in link, the RGPD
export and erasure (with the portal's rule: not while an order is on its way)."""

import json
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from customers.models import Address, Customer, CustomerAccount, CustomerNote
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE_STAFF
from orders.models import Order
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def service(client, role_users):
    client.force_login(role_users[CUSTOMER_SERVICE])
    return role_users[CUSTOMER_SERVICE]


@pytest.fixture
def ana(db):
    customer = Customer.objects.create(
        email="ana.roux@example.fr",
        first_name="Ana",
        last_name="Roux",
        phone="+33 6 12 34 56 78",
        company="Roux SARL",
        siren="552100554",
        vat_number="FR40552100554",
        sms_opt_in=True,
        sms_opt_in_at=timezone.now(),
    )
    Address.objects.create(customer=customer, line1="3 rue X", postcode="69003", city="Lyon", is_default=True)
    return customer


def test_list_searches_email_name_company_and_phone(client, service, ana):
    Customer.objects.create(email="louis@example.fr", first_name="Louis", last_name="Martin")
    url = reverse("customers:list")
    for query in ("ana.roux", "Ana Roux", "roux sarl", "06 12 34 56 78", "612345678"):
        html = client.get(url, {"q": query}).content.decode()
        assert "ana.roux@example.fr" in html and "louis@example.fr" not in html, query
    html = client.get(url, {"kind": "b2b"}).content.decode()
    assert "ana.roux@example.fr" in html and "louis@example.fr" not in html
    html = client.get(url, {"q": "nobody"}).content.decode()
    assert "No customer matches" in html


def test_list_costs_a_fixed_number_of_queries(client, service, django_assert_max_num_queries):
    for n in range(40):
        Customer.objects.create(email=f"c{n}@example.fr")
    with django_assert_max_num_queries(7):
        response = client.get(reverse("customers:list"))
    assert response.status_code == 200 and len(response.context["page"].object_list) == 40


def test_customer_page_shows_orders_b2b_consent_account_and_addresses(client, service, ana):
    order = OrderFactory(customer=ana)
    CustomerAccount.objects.create(customer=ana, password="x", last_login=timezone.now())
    html = client.get(reverse("customers:detail", args=[ana.pk])).content.decode()
    assert order.number in html
    for text in (
        "Roux SARL",
        "552100554",
        "FR40552100554",
        "Active, with a password",
        "3 rue X",
        "Yes, since",
    ):
        assert text in html, text
    assert reverse("invoicing:customer_documents", args=[ana.pk]) in html  # invoices come as a fragment


def test_notes_are_added_and_shown_newest_first(client, service, ana):
    url = reverse("customers:detail", args=[ana.pk])
    client.post(url, {"text": "Prefers calls after 6 pm."})
    client.post(url, {"text": "VIP: upgrade shipping."})
    response = client.post(url, {"text": "   "})
    assert response.status_code == 400
    assert list(CustomerNote.objects.values_list("text", flat=True)) == [
        "VIP: upgrade shipping.",
        "Prefers calls after 6 pm.",
    ]
    html = client.get(url).content.decode()
    assert html.index("VIP: upgrade shipping.") < html.index("Prefers calls after 6 pm.")
    assert CustomerNote.objects.first().author == service


def test_warehouse_staff_cannot_see_customers(client, role_users, ana):
    client.force_login(role_users[WAREHOUSE_STAFF])
    assert client.get(reverse("customers:detail", args=[ana.pk])).status_code == 403
    assert client.post(reverse("customers:detail", args=[ana.pk]), {"text": "x"}).status_code == 403
    assert not CustomerNote.objects.exists()


def test_sign_in_link_is_emailed_to_the_customer(
    client, service, ana, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://shop.example"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("customers:account_link", args=[ana.pk]))
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["ana.roux@example.fr"]]
    assert "https://shop.example/account/link/" in mail.outbox[0].body
    page = client.get(response["Location"]).content.decode()
    assert "A sign-in link was sent to ana.roux@example.fr" in page
    assert "/account/link/" not in page  # staff never see the link


def test_export_is_the_customers_data_as_json(client, service, ana):
    order = OrderFactory(customer=ana)
    response = client.get(reverse("customers:export", args=[ana.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="customer-{ana.pk}.json"'
    data = json.loads(response.content)
    assert data["customer"]["email"] == "ana.roux@example.fr"
    assert [o["number"] for o in data["orders"]] == [order.number]
    assert data["addresses"][0]["line1"] == "3 rue X"


def test_erasure_is_refused_while_an_order_is_on_its_way(client, service, ana):
    OrderFactory(customer=ana)  # allocated: on its way
    CustomerNote.objects.create(customer=ana, text="note")
    response = client.post(reverse("customers:erase", args=[ana.pk]), {"confirm": "on"})
    assert response.status_code == 409
    assert "cannot be erased while orders are on their way" in response.content.decode()
    ana.refresh_from_db()
    assert ana.email == "ana.roux@example.fr" and CustomerNote.objects.count() == 1


def test_erasure_needs_confirmation_then_erases(client, service, ana):
    CustomerNote.objects.create(customer=ana, text="Calls after 6 pm")
    url = reverse("customers:erase", args=[ana.pk])
    assert client.post(url, {}).status_code == 400
    ana.refresh_from_db()
    assert ana.first_name == "Ana"
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert (ana.first_name, ana.phone, ana.company, ana.siren) == ("", "", "", "")
    assert ana.email.endswith("@anonymised.invalid")
    assert not Address.objects.filter(customer=ana).exists()
    assert not CustomerNote.objects.filter(customer=ana).exists()
    html = client.get(response["Location"]).content.decode()
    assert "Erased customer" in html and reverse("customers:erase", args=[ana.pk]) not in html


def test_staff_invoice_fragment_of_a_customer(client, role_users):
    from tests.oms.test_roles import invoicing_matrix_objects
    from tests.orders.factories import MATRIX_ORDER, role_matrix_objects

    role_matrix_objects()
    invoicing_matrix_objects()
    order = Order.objects.get(number=MATRIX_ORDER)
    client.force_login(role_users[MANAGER])
    html = client.get(reverse("invoicing:customer_documents", args=[order.customer_id])).content.decode()
    assert "FA-2026-000001" in html and order.number in html and "Credit note" in html
    html = client.get(reverse("invoicing:order_documents", args=[order.number])).content.decode()
    assert "FA-2026-000001" in html
    assert Decimal("24.90") == order.invoicing_documents.get().total_incl_vat
