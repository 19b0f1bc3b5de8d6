"""Editing an order on its page, as customer service does on the phone: lower a quantity, add a product,
save; the page shows the new lines, the money difference on the timeline and the payment section; once
picking has started the edit page says why it refuses and offers to cancel units instead."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from oms.roles import CUSTOMER_SERVICE
from orders.models import Order
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def order(db):
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    channel = ChannelFactory(code="web", name="Boutique web", locations=[lyon])
    tee = ProductFactory(sku="TSHIRT-M", name="T-shirt M", price=Decimal("19.90"))
    mug = ProductFactory(sku="MUG", name="Mug", price=Decimal("8.50"))
    stock(tee, lyon, 10)
    stock(mug, lyon, 10)
    UserFactory(username="sav", role=CUSTOMER_SERVICE)
    return place_order(
        channel=channel,
        lines=[("TSHIRT-M", 3)],
        shipping_fee=Decimal("4.90"),
        payment={"status": "paid", "provider": "sandbox", "reference": "sbx_pi_demo"},
    )


def test_edit_an_order_on_its_page(page, live_server, login, order, screenshot, docs_image):
    page.set_viewport_size({"width": 1280, "height": 900})
    login("sav")
    page.goto(f"{live_server.url}/orders/{order.number}/")
    page.get_by_role("link", name="Modifier la commande").or_(
        page.get_by_role("link", name="Edit the order")
    ).click()
    expect(page.locator("h1")).to_contain_text(order.number)
    page.fill("#id_qty_1", "1")
    page.fill("#id_add_sku_0", "MUG")
    page.fill("#id_add_qty_0", "2")
    page.fill("#id_reason", "Demande de la cliente au téléphone")
    screenshot("order-edit-form")
    docs_image(screenshot("order-edit-form"), "order-edit.png")
    page.click("#edit-form button[type=submit]")

    expect(page.locator("h1")).to_contain_text(order.number)
    lines = page.locator("table").first
    expect(lines).to_contain_text("MUG")
    expect(page.locator("#payment")).to_contain_text("sbx_pi_demo")
    order.refresh_from_db()
    assert order.total_incl_vat == Decimal("19.90") + Decimal("17.00") + Decimal("4.90")
    # paid 64.60 at checkout, now 41.80: the difference went back through the payment service
    assert (order.amount_paid, order.amount_refunded) == (Decimal("64.60"), Decimal("22.80"))
    expect(page.locator("body")).to_contain_text("-22,80")
    docs_image(screenshot("order-edited"), "order-edited.png")

    Order.objects.filter(pk=order.pk).update(status="in_preparation")
    page.goto(f"{live_server.url}/orders/{order.number}/edit/")
    expect(page.locator(".message--warning")).to_be_visible()
    expect(page.locator(f"a[href='/orders/{order.number}/cancel-units/']")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
