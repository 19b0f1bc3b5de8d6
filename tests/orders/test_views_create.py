"""Manual entry of phone orders: same intake as the API; on a refusal the form comes back whole, with the
reason on top, and nothing is written."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from common.models import DomainEvent
from customers.models import Address, Customer
from inventory import services as inventory_services
from inventory.models import Allocation, StockLevel, StockMovement
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE_STAFF
from orders.models import Order, OrderLine
from tests.events import events_of
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, stock

URL = reverse("orders:order_create")


@pytest.fixture
def catalogue(db, warehouse, store):
    tee = ProductFactory(sku="TEE", ean="3760000000017", price=Decimal("19.90"))
    mug = ProductFactory(sku="MUG", price=Decimal("9.50"), vat_rate=Decimal("5.5"))
    stock(tee, warehouse, 5)
    stock(mug, warehouse, 1)
    stock(mug, store, 2)
    web = ChannelFactory(code="web", name="Web", locations=[warehouse, store])
    ChannelFactory(code="phone", name="Téléphone", locations=[warehouse])
    return {"web": web, "tee": tee, "mug": mug}


@pytest.fixture
def service_client(client, role_users):
    client.force_login(role_users[CUSTOMER_SERVICE])
    return client


def external_id(client) -> str:
    html = client.get(URL).content.decode()
    return re.search(r'name="external_id" value="([^"]+)"', html).group(1)


def form_data(client, lines, **overrides) -> dict:
    data = {
        "external_id": external_id(client),
        "channel": "web",
        "email": "Claire.Dupont@example.fr",
        "first_name": "Claire",
        "last_name": "Dupont",
        "phone": "+33612345678",
        "company": "",
        "delivery_mode": "home",
        "ship_name": "",
        "line1": "3 rue de la République",
        "line2": "",
        "postcode": "69002",
        "city": "Lyon",
        "country": "FR",
        "note": "Called at 10:05",
        "lines-TOTAL_FORMS": "5",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
    }
    for index in range(5):
        code, quantity, price = lines[index] if index < len(lines) else ("", "", "")
        data[f"lines-{index}-code"] = code
        data[f"lines-{index}-quantity"] = quantity
        data[f"lines-{index}-unit_price"] = price
    data.update(overrides)
    return data


def snapshot():
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "allocations": Allocation.objects.count(),
        "events": DomainEvent.objects.count(),
        "customers": Customer.objects.count(),
        "addresses": Address.objects.count(),
        "movements": StockMovement.objects.count(),
        "reserved": sorted(StockLevel.objects.values_list("product__sku", "location__code", "reserved")),
    }


def test_the_form_has_five_line_rows_and_a_generated_external_id(service_client, catalogue):
    response = service_client.get(URL)
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 5
    assert re.fullmatch(r"PHONE-\d{14}-[0-9a-f]{8}", response.context["form"].initial["external_id"])
    assert response.context["form"].initial["channel"] == "web"


def test_a_phone_order_is_taken(service_client, role_users, catalogue, warehouse):
    data = form_data(service_client, [("TEE", "2", ""), ("3760000000017", "1", "15.00"), ("MUG", "1", "")])

    response = service_client.post(URL, data)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:order_detail", kwargs={"number": order.number})
    assert order.external_id == data["external_id"]
    assert order.channel.code == "web"
    assert order.status == Order.Status.ALLOCATED
    assert order.customer.email == "Claire.Dupont@example.fr"
    assert (order.ship_line1, order.ship_postcode, order.ship_city) == (
        "3 rue de la République",
        "69002",
        "Lyon",
    )
    assert order.ship_name == "Claire Dupont"
    assert order.note == "Called at 10:05"
    assert [(x.sku, x.quantity, x.unit_price) for x in order.lines.order_by("line_no")] == [
        ("TEE", 2, Decimal("19.90")),
        ("TEE", 1, Decimal("15.00")),  # found by its EAN, price typed
        ("MUG", 1, Decimal("9.50")),
    ]
    assert order.total_incl_vat == Decimal("64.30")
    assert StockLevel.objects.get(product=catalogue["tee"], location=warehouse).reserved == 3
    created = events_of(order, "order.created").get()
    assert created.payload["source"] == "manual"
    assert created.actor == role_users[CUSTOMER_SERVICE]
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]


def test_store_pickup_and_relay_point(service_client, catalogue, store):
    data = form_data(
        service_client, [("MUG", "2", "")], delivery_mode="store", store="paris", line1="", city=""
    )
    assert service_client.post(URL, data).status_code == 302
    pickup = Order.objects.get()
    assert pickup.delivery_mode == "store"
    assert pickup.pickup_location == store
    assert [a.location.code for a in Allocation.objects.filter(line__order=pickup)] == ["paris"]

    from shipping.models import Carrier

    Carrier.objects.create(code="mondial-relay", name="Mondial Relay", adapter="mondial_relay")
    unknown = form_data(
        service_client, [("TEE", "1", "")], delivery_mode="relay", relay_carrier="nope", relay_id="020123"
    )
    assert service_client.post(URL, unknown).status_code == 400
    missing = form_data(service_client, [("TEE", "1", "")], delivery_mode="relay")
    assert service_client.post(URL, missing).status_code == 400
    data = form_data(
        service_client,
        [("TEE", "1", "")],
        delivery_mode="relay",
        relay_carrier="mondial_relay",
        relay_id="020123",
        relay_name="Tabac du Centre",
        relay_line1="1 place Bellecour",
        relay_postcode="69002",
        relay_city="Lyon",
    )
    assert service_client.post(URL, data).status_code == 302
    relay = Order.objects.exclude(pk=pickup.pk).get()
    assert relay.delivery_mode == "relay"
    assert relay.relay_point["id"] == "020123"
    assert relay.relay_point["carrier"] == "mondial-relay"  # the carrier's code, as the relay picker gives
    assert relay.ship_name == "Tabac du Centre"


def test_out_of_stock_writes_nothing_and_keeps_what_was_typed(service_client, catalogue):
    data = form_data(service_client, [("TEE", "1", ""), ("MUG", "7", "")])
    before = snapshot()

    with translation.override("en"):
        response = service_client.post(URL, data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert snapshot() == before
    assert len(response.context["errors"]) == 1
    assert "MUG" in response.context["errors"][0]
    assert "7" in response.context["errors"][0]
    html = response.content.decode()
    assert 'value="Claire.Dupont@example.fr"' in html
    assert 'value="3 rue de la République"' in html
    assert 'value="MUG"' in html
    assert data["external_id"] in html
    assert "Called at 10:05" in html


def test_out_of_stock_with_incoming_suggests_the_pre_order(service_client, catalogue, warehouse):
    inventory_services.incoming_create(
        product=catalogue["mug"], location=warehouse, quantity=10, expected_on=dt.date(2030, 1, 15)
    )
    data = form_data(service_client, [("MUG", "5", "")])
    response = service_client.post(URL, data)
    assert response.status_code == 400
    assert Order.objects.count() == 0
    data["allow_preorder"] = "on"
    assert service_client.post(URL, data).status_code == 302
    order = Order.objects.get()
    assert order.status == Order.Status.AWAITING_STOCK
    assert order.allow_preorder is True


def test_unknown_sku_writes_nothing(service_client, catalogue):
    data = form_data(service_client, [("TEE", "1", ""), ("NOPE", "1", "")])
    before = snapshot()
    response = service_client.post(URL, data)
    assert response.status_code == 400
    assert snapshot() == before
    assert "NOPE" in response.context["errors"][0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"line1": ""}, "line1"),
        ({"delivery_mode": "store"}, "store"),
        ({"delivery_mode": "relay", "relay_id": "X"}, "relay_id"),  # no carrier: not from the picker
        ({"email": "not-an-email"}, "email"),
        ({"channel": "nope"}, "channel"),
        ({"external_id": "SHOP-1"}, "external_id"),
    ],
)
def test_invalid_form_writes_nothing(service_client, catalogue, overrides, field):
    data = form_data(service_client, [("TEE", "1", "")], **overrides)
    before = snapshot()
    response = service_client.post(URL, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert snapshot() == before


@pytest.mark.parametrize(
    ("lines", "field"),
    [([("TEE", "", "")], "quantity"), ([("", "2", "")], "code"), ([("TEE", "0", "")], "quantity")],
)
def test_invalid_line_writes_nothing(service_client, catalogue, lines, field):
    data = form_data(service_client, lines)
    before = snapshot()
    response = service_client.post(URL, data)
    assert response.status_code == 400
    assert field in response.context["formset"].forms[0].errors
    assert snapshot() == before


def test_an_order_needs_a_line(service_client, catalogue):
    response = service_client.post(URL, form_data(service_client, []))
    assert response.status_code == 400
    assert response.context["formset"].non_form_errors().as_data()[0].code == "no_lines"
    assert Order.objects.count() == 0


def test_submitting_the_same_form_twice_takes_one_order(service_client, catalogue):
    data = form_data(service_client, [("TEE", "1", "")])
    assert service_client.post(URL, data).status_code == 302
    before = snapshot()
    response = service_client.post(URL, data)
    assert response.status_code == 400
    assert Order.objects.get().number in response.context["errors"][0]
    assert snapshot() == before


def test_more_rows_keeps_what_was_typed_and_writes_nothing(service_client, catalogue):
    data = form_data(service_client, [("TEE", "2", ""), ("", "", ""), ("MUG", "1", "4.00")], add_lines="1")
    response = service_client.post(URL, data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert len(formset.forms) == 7  # the two filled rows and five empty ones
    assert [f.initial for f in formset.forms[:2]] == [
        {"code": "TEE", "quantity": "2", "unit_price": ""},
        {"code": "MUG", "quantity": "1", "unit_price": "4.00"},
    ]
    assert response.context["form"].initial["email"] == "Claire.Dupont@example.fr"
    assert not response.context["form"].errors
    assert Order.objects.count() == 0


def test_manager_may_take_orders_warehouse_staff_may_not(client, role_users, catalogue):
    client.force_login(role_users[MANAGER])
    assert client.post(URL, form_data(client, [("TEE", "1", "")])).status_code == 302
    client.force_login(role_users[WAREHOUSE_STAFF])
    assert client.post(URL, {}).status_code == 403
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"postcode": "ABCDE"},
            "postcode",
            "“ABCDE” is not a valid postcode for France (for example 75004).",
        ),
        (
            {"country": "XX"},
            "country",
            "“XX” is not a country code: give the ISO 3166-1 alpha-2 code (FR, BE, DE, GB…).",
        ),
        (
            {"country": "BE", "postcode": "69002"},
            "postcode",
            "“69002” is not a valid postcode for Belgium (for example 1000).",
        ),
    ],
)
def test_an_invalid_address_is_refused_on_its_field(service_client, catalogue, overrides, field, message):
    data = form_data(service_client, [("TEE", "1", "")], **overrides)
    before = snapshot()
    with translation.override("en"):
        response = service_client.post(URL, data, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert response.context["form"].errors[field] == [message]
    assert snapshot() == before


def test_the_address_is_stored_normalised(service_client, catalogue):
    data = form_data(service_client, [("TEE", "1", "")], postcode=" 97 133 ", country="fr")
    assert service_client.post(URL, data).status_code == 302
    order = Order.objects.get()
    assert (order.ship_postcode, order.ship_country) == ("97133", "FR")
