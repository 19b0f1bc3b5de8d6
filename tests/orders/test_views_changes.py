"""The order's changes from the back office: the edit page (and why it refuses once picking started), units
cancelled, a payment recorded, a hold placed and cleared."""

from decimal import Decimal

import pytest
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE, WAREHOUSE_STAFF
from orders.models import Order, OrderChange
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(warehouse, store):
    tee = ProductFactory(sku="TEE", price=Decimal("20.00"))
    mug = ProductFactory(sku="MUG", price=Decimal("8.00"))
    stock(tee, warehouse, 10)
    stock(mug, warehouse, 10)
    channel = ChannelFactory(code="web", locations=[warehouse, store])
    return place_order(channel=channel, lines=[("TEE", 2), ("MUG", 1)], shipping_fee=Decimal("5.00"))


def _form(order, **changes) -> dict:
    data = {
        "delivery_mode": order.delivery_mode,
        "ship_name": order.ship_name,
        "line1": order.ship_line1,
        "line2": order.ship_line2,
        "postcode": order.ship_postcode,
        "city": order.ship_city,
        "country": order.ship_country,
        "store": "",
        "shipping_fee": str(order.shipping_fee),
        "reason": "",
        "qty_1": "2",
        "qty_2": "1",
        "replace_1": "",
        "replace_2": "",
        "add_sku_0": "",
        "add_qty_0": "",
        "add_sku_1": "",
        "add_qty_1": "",
    }
    data.update(changes)
    return data


def test_customer_service_edits_an_order_from_its_page(client, role_users, order):
    client.force_login(role_users[CUSTOMER_SERVICE])
    page = client.get(reverse("orders:order_detail", args=[order.number]))
    assert reverse("orders:order_edit", args=[order.number]) in page.content.decode()

    response = client.post(
        reverse("orders:order_edit", args=[order.number]),
        _form(order, qty_1="1", add_sku_0="MUG", add_qty_0="2", reason="au téléphone"),
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.total_incl_vat == Decimal("20.00") + Decimal("8.00") * 3 + Decimal("5.00")
    change = OrderChange.objects.get(order=order)
    assert (change.actor.username, change.reason, change.difference) == (
        "cs",
        "au téléphone",
        Decimal("-4.00"),
    )


def test_an_edit_beyond_stock_comes_back_with_the_reason_and_changes_nothing(client, role_users, order):
    client.force_login(role_users[CUSTOMER_SERVICE])

    response = client.post(reverse("orders:order_edit", args=[order.number]), _form(order, qty_1="50"))

    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="message message--error"' in page and "TEE" in page
    assert not OrderChange.objects.exists()


def test_the_edit_page_says_why_once_picking_started(client, role_users, order):
    Order.objects.filter(pk=order.pk).update(status="in_preparation")
    client.force_login(role_users[CUSTOMER_SERVICE])

    page = client.get(
        reverse("orders:order_edit", args=[order.number]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "Picking has started" in page
    assert reverse("orders:order_lines_cancel", args=[order.number]) in page


def test_cancel_units_payment_and_hold_from_the_page(client, role_users, order):
    client.force_login(role_users[CUSTOMER_SERVICE])
    tee = order.lines.get(sku="TEE")

    client.post(
        reverse("orders:order_lines_cancel", args=[order.number]), {f"cancel_{tee.pk}": "1", "reason": "x"}
    )
    client.post(reverse("orders:order_hold", args=[order.number]), {"kind": "fraud", "reason": "à vérifier"})
    order.refresh_from_db()
    assert (order.total_incl_vat, order.holds) == (Decimal("33.00"), ["fraud"])

    client.post(reverse("orders:order_hold", args=[order.number]), {"kind": "fraud", "release": "on"})
    client.post(
        reverse("orders:order_payment", args=[order.number]), {"amount": "33.00", "reference": "VIR-9"}
    )
    order.refresh_from_db()
    assert (order.holds, order.payment_status, order.amount_paid) == ([], "paid", Decimal("33.00"))


def test_warehouse_staff_cannot_edit(client, role_users, order):
    client.force_login(role_users[WAREHOUSE_STAFF])

    assert client.get(reverse("orders:order_edit", args=[order.number])).status_code in (403, 404)
