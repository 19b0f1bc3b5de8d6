"""The account space's pages (portal/account_views.py): sign-in by password or by link, the
separation from staff sessions, and every page scoped to the signed-in customer."""

import json

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from customers import accounts
from customers.models import Address, Customer, CustomerAccount, Notification
from oms.roles import MANAGER
from orders.models import Order
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
STRONG = "correct-horse-battery-staple-42"
SIGNIN = "/account/signin/"


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def lyon():
    return LocationFactory(code="lyon")


@pytest.fixture
def ana(lyon):
    customer = CustomerFactory(email="ana@example.fr", first_name="Ana", language="en")
    accounts.account_set_password(customer=customer, password=STRONG)
    return customer


@pytest.fixture
def bob(lyon):
    customer = CustomerFactory(email="bob@example.fr", first_name="Bob", language="en")
    accounts.account_set_password(customer=customer, password=STRONG)
    return customer


@pytest.fixture
def ana_client(ana):
    client = Client()
    response = client.post(
        SIGNIN, {"action": "password", "email": "ana@example.fr", "password": STRONG}, **EN
    )
    assert response.status_code == 302
    return client


ACCOUNT_PAGES = [
    "/account/",
    "/account/addresses/",
    "/account/addresses/new/",
    "/account/preferences/",
    "/account/password/",
    "/account/data/",
    "/account/data/export/",
]


@pytest.mark.parametrize("url", ACCOUNT_PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client, url):
    response = client.get(url, **EN)

    assert response.status_code == 302
    assert response["Location"] == f"{SIGNIN}?next={url.replace('/', '%2F')}"


@pytest.mark.parametrize("url", ACCOUNT_PAGES)
def test_signed_in_customer_sees_every_page(ana_client, url):
    response = ana_client.get(url, **EN)

    assert response.status_code == 200
    assert response["X-Robots-Tag"].startswith("noindex") and response["Referrer-Policy"] == "same-origin"


def test_a_staff_session_does_not_sign_into_the_account_space(client):
    manager = UserFactory(role=MANAGER, username="boss", email="ana@example.fr")
    client.force_login(manager)

    assert client.get("/account/", **EN).status_code == 302
    assert client.get("/account/data/export/", **EN)["Location"].startswith(SIGNIN)


def test_a_customer_session_gives_no_back_office_access(ana_client):
    for url in ("/orders/", "/", "/invoices/", "/admin/"):
        response = ana_client.get(url, **EN)
        assert response.status_code == 302, url
        assert "login" in response["Location"], url


def test_wrong_password_shows_one_message_for_any_reason(client, ana):
    for email in ("ana@example.fr", "nobody@example.fr"):
        response = client.post(SIGNIN, {"action": "password", "email": email, "password": "nope"}, **EN)
        assert response.status_code == 200
        assert "This email and password do not match an account." in response.content.decode()
        assert f'value="{email}"' in response.content.decode()  # what was typed is kept
    assert client.get("/account/", **EN).status_code == 302


def test_sign_in_goes_back_to_next_only_inside_the_account(client, ana):
    data = {"action": "password", "email": "ana@example.fr", "password": STRONG}
    assert (
        client.post(SIGNIN, {**data, "next": "/account/addresses/"}, **EN)["Location"]
        == "/account/addresses/"
    )
    client.post("/account/signout/", **EN)
    assert client.post(SIGNIN, {**data, "next": "https://evil.example/"}, **EN)["Location"] == "/account/"


def test_sign_in_attempts_are_limited(client, ana, settings):
    settings.ACCOUNT_SIGNIN_RATE = "3/h"
    for _ in range(3):
        client.post(SIGNIN, {"action": "password", "email": "ana@example.fr", "password": "bad"}, **EN)

    response = client.post(
        SIGNIN, {"action": "password", "email": "ana@example.fr", "password": STRONG}, **EN
    )

    assert response.status_code == 429
    assert client.get("/account/", **EN).status_code == 302


def test_magic_link_flow_creates_the_account_and_sets_a_password(
    client, lyon, django_capture_on_commit_callbacks
):
    carla = CustomerFactory(email="carla@example.fr", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNIN, {"action": "link", "email": "Carla@example.fr"}, **EN)
    assert response.status_code == 302
    unknown = client.post(SIGNIN, {"action": "link", "email": "nobody@example.fr"}, follow=True, **EN)
    assert "If an account matches nobody@example.fr" in unknown.content.decode()  # same answer
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["carla@example.fr"]
    url = next(word for word in mail.outbox[0].body.split() if "/account/link/" in word)
    path = url.split("testserver", 1)[1]

    page = client.get(path, **EN)  # opening the link (a mail scanner would too) does not spend it
    assert page.status_code == 200 and "carla@example.fr" in page.content.decode()
    mismatch = client.post(path, {"password1": STRONG, "password2": STRONG + "x"}, **EN)
    assert mismatch.status_code == 200 and mismatch.context["form"].errors["password2"]
    response = client.post(path, {"password1": STRONG, "password2": STRONG}, **EN)

    assert response.status_code == 302 and response["Location"] == "/account/"
    assert client.get("/account/", **EN).status_code == 200
    assert accounts.account_authenticate(email="carla@example.fr", password=STRONG) == carla
    again = Client().post(path, {}, **EN)
    assert again.status_code == 400 and "already been used" in again.content.decode()


def test_magic_link_without_password(client, lyon):
    carla = CustomerFactory(email="carla@example.fr")
    path = reverse("portal:account_link", args=[accounts.account_link_make(customer=carla)])

    assert client.post(path, {"password1": "", "password2": ""}, **EN)["Location"] == "/account/"
    assert CustomerAccount.objects.get(customer=carla).password == ""


def test_broken_link_page(client):
    response = client.get("/account/link/garbage/", **EN)

    assert response.status_code == 400 and "not valid" in response.content.decode()


def test_orders_list_shows_only_mine_with_tracking_links(ana_client, ana, bob, lyon):
    mine = OrderFactory(customer=ana, lines=[(ProductFactory(), 1, lyon)])
    theirs = OrderFactory(customer=bob, lines=[(ProductFactory(), 1, lyon)])

    html = ana_client.get("/account/", **EN).content.decode()

    assert mine.number in html and f'href="/track/{mine.tracking_token}/"' in html
    assert theirs.number not in html and theirs.tracking_token not in html


@pytest.fixture
def bobs_address(bob):
    return accounts.address_save(
        customer=bob, data={"line1": "9 rue Bob", "postcode": "75001", "city": "Paris"}
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/account/addresses/{pk}/"),
        ("post", "/account/addresses/{pk}/"),
        ("get", "/account/addresses/{pk}/delete/"),
        ("post", "/account/addresses/{pk}/delete/"),
        ("post", "/account/addresses/{pk}/default/"),
    ],
)
def test_another_customers_address_is_a_404(ana_client, bobs_address, method, path):
    url = path.format(pk=bobs_address.pk)
    data = {"kind": "shipping", "line1": "hacked", "postcode": "1", "city": "x", "country": "FR"}

    response = getattr(ana_client, method)(url, data, **EN) if method == "post" else ana_client.get(url, **EN)

    assert response.status_code == 404
    bobs_address.refresh_from_db()
    assert bobs_address.line1 == "9 rue Bob" and bobs_address.is_default


def test_address_add_edit_default_delete(ana_client, ana):
    form = {
        "kind": "shipping",
        "name": "Ana",
        "line1": "1 rue A",
        "postcode": "69001",
        "city": "Lyon",
        "country": "fr",
    }
    assert ana_client.post("/account/addresses/new/", form, **EN).status_code == 302
    assert ana_client.post("/account/addresses/new/", {**form, "line1": "2 rue B"}, **EN).status_code == 302
    first, second = Address.objects.filter(customer=ana).order_by("pk")
    assert first.is_default and not second.is_default and first.country == "FR"

    ana_client.post(f"/account/addresses/{second.pk}/default/", **EN)
    ana_client.post(f"/account/addresses/{first.pk}/", {**form, "line1": "1 bis rue A"}, **EN)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_default and not first.is_default and first.line1 == "1 bis rue A"

    ana_client.post(f"/account/addresses/{second.pk}/delete/", **EN)
    assert list(Address.objects.filter(customer=ana).values_list("line1", "is_default")) == [
        ("1 bis rue A", True)
    ]


def test_address_form_errors_keep_what_was_typed(ana_client, ana):
    form = {
        "kind": "shipping",
        "name": "Ana Roux",
        "line1": "",
        "postcode": "69001",
        "city": "Lyon",
        "country": "FRA",
    }

    response = ana_client.post("/account/addresses/new/", form, **EN)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"line1", "country"}
    assert 'value="Ana Roux"' in response.content.decode()
    assert not Address.objects.filter(customer=ana).exists()


def test_preferences(ana_client, ana):
    store = LocationFactory(code="paris-store", name="Boutique Paris", kind="store", is_pickup_point=True)
    LocationFactory(code="dock", name="Quai", kind="warehouse")
    page = ana_client.get("/account/preferences/", **EN).content.decode()
    assert "Boutique Paris" in page and "Quai" not in page

    bad = ana_client.post("/account/preferences/", {"preferred_mode": "relay", "sms_opt_in": "on"}, **EN)
    assert bad.status_code == 200
    assert set(bad.context["form"].errors) == {"relay_point_id", "phone"}

    ok = ana_client.post(
        "/account/preferences/",
        {"preferred_mode": "store", "preferred_store": store.pk, "sms_opt_in": "on", "phone": "+33612345678"},
        **EN,
    )
    assert ok.status_code == 302
    account = CustomerAccount.objects.get(customer=ana)
    ana.refresh_from_db()
    assert (account.preferred_mode, account.preferred_store) == ("store", store)
    assert ana.sms_opt_in and ana.sms_opt_in_at and ana.phone == "+33612345678"


def test_change_password_keeps_this_session_and_ends_others(ana_client, ana):
    other_device = Client()
    other_device.post(SIGNIN, {"action": "password", "email": "ana@example.fr", "password": STRONG}, **EN)
    new = "another-long-passphrase-77"

    response = ana_client.post("/account/password/", {"password1": new, "password2": new}, **EN)

    assert response.status_code == 302
    assert ana_client.get("/account/", **EN).status_code == 200
    assert other_device.get("/account/", **EN).status_code == 302
    assert accounts.account_authenticate(email="ana@example.fr", password=new) == ana


def test_export_holds_my_data_and_nothing_of_others(ana_client, ana, bob, lyon):
    accounts.address_save(customer=ana, data={"line1": "1 rue A", "postcode": "69001", "city": "Lyon"})
    OrderFactory(customer=ana, number="CMD-ANA-1", lines=[(ProductFactory(name="Pull"), 2, lyon)])
    OrderFactory(customer=bob, number="CMD-BOB-1", lines=[(ProductFactory(), 1, lyon)])
    Notification.objects.create(
        customer=ana,
        kind="shipped",
        language="en",
        recipient="ana@example.fr",
        body_text="Shipped",
        dedup_key="a",
    )

    response = ana_client.get("/account/data/export/", **EN)

    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["customer"]["email"] == "ana@example.fr"
    assert [a["line1"] for a in data["addresses"]] == ["1 rue A"]
    assert [o["number"] for o in data["orders"]] == ["CMD-ANA-1"]
    assert data["orders"][0]["lines"][0]["name"] == "Pull" and data["orders"][0]["lines"][0]["quantity"] == 2
    assert [n["text"] for n in data["notifications"]] == ["Shipped"]
    assert "bob" not in response.content.decode().lower()


def test_erasure_refused_while_an_order_is_on_its_way(ana_client, ana, lyon):
    OrderFactory(
        customer=ana, number="CMD-OPEN-1", status=Order.Status.SHIPPED, lines=[(ProductFactory(), 1, lyon)]
    )

    response = ana_client.post("/account/data/delete/", {"confirm": "on"}, **EN)

    assert response.status_code == 200 and "CMD-OPEN-1" in response.content.decode()
    ana.refresh_from_db()
    assert ana.email == "ana@example.fr"


def test_erasure_needs_the_confirmation(ana_client, ana):
    response = ana_client.post("/account/data/delete/", {}, **EN)

    assert response.status_code == 200 and response.context["form"].errors["confirm"]
    assert Customer.objects.get(pk=ana.pk).email == "ana@example.fr"


def test_erasure_anonymises_keeps_orders_and_signs_out(ana_client, ana, lyon):
    order = OrderFactory(customer=ana, status=Order.Status.DELIVERED, lines=[(ProductFactory(), 1, lyon)])
    accounts.address_save(customer=ana, data={"line1": "1 rue A", "postcode": "69001", "city": "Lyon"})

    response = ana_client.post("/account/data/delete/", {"confirm": "on"}, **EN)

    assert response.status_code == 302 and response["Location"] == SIGNIN
    ana.refresh_from_db()
    assert ana.email.endswith("@anonymised.invalid") and ana.first_name == ""
    assert not Address.objects.filter(customer=ana).exists()
    order.refresh_from_db()
    assert order.customer_id == ana.pk and order.ship_line1 == "3 rue X"  # the order's snapshot stays
    assert ana_client.get("/account/", **EN).status_code == 302


def test_sign_out_ends_only_the_customer_session(client, ana):
    manager = UserFactory(role=MANAGER, username="boss")
    client.force_login(manager)
    client.post(SIGNIN, {"action": "password", "email": "ana@example.fr", "password": STRONG}, **EN)
    assert client.get("/account/", **EN).status_code == 200

    client.post("/account/signout/", **EN)

    assert client.get("/account/", **EN).status_code == 302
    assert client.get("/orders/", **EN).status_code == 200  # the staff session is still there


def test_forms_need_csrf(ana):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(SIGNIN, {"action": "password", "email": "ana@example.fr", "password": STRONG})

    assert response.status_code == 403


def test_an_address_with_an_invalid_postcode_or_country_is_refused(ana_client, ana):
    form = {"kind": "shipping", "name": "Ana", "line1": "1 rue A", "postcode": "ABCDE", "city": "Lyon"}
    response = ana_client.post("/account/addresses/new/", {**form, "country": "FR"}, **EN)
    assert response.status_code == 200
    assert response.context["form"].errors["postcode"] == [
        "“ABCDE” is not a valid postcode for France (for example 75004)."
    ]
    response = ana_client.post(
        "/account/addresses/new/", {**form, "postcode": "69001", "country": "XX"}, **EN
    )
    assert response.context["form"].errors["country"] == [
        "“XX” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…)."
    ]
    assert not Address.objects.filter(customer=ana).exists()
    assert (
        ana_client.post(
            "/account/addresses/new/", {**form, "postcode": "sw1a1aa", "country": "gb"}, **EN
        ).status_code
        == 302
    )
    assert Address.objects.filter(customer=ana).values_list("postcode", "country").get() == ("SW1A 1AA", "GB")
