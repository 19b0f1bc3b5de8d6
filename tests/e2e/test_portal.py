"""The customer opens their tracking page on a phone (390 px wide): everything readable without zooming or
scrolling sideways; the invoices fragment is loaded by htmx."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order
from shipping.models import Shipment, TrackingEvent
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import CustomerFactory, OrderFactory
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def order(db):
    lyon = LocationFactory(code="lyon", kind="warehouse")
    order = OrderFactory(
        number="CMD-2026-004217",
        status=Order.Status.SHIPPED,
        customer=CustomerFactory(email="ana.roux@example.fr", first_name="Ana", last_name="Roux"),
        ship_name="Ana Roux",
        ship_line1="14 avenue Jean Jaurès",
        ship_line2="Bâtiment B, 3e étage, porte gauche",
        ship_postcode="69007",
        ship_city="Lyon",
        promised_earliest=dt.date(2026, 11, 27),
        promised_latest=dt.date(2026, 11, 28),
        lines=[
            (
                ProductFactory(sku="PULL-M", name="Pull col roulé en laine mérinos, bleu nuit, taille M"),
                1,
                lyon,
            ),
            (ProductFactory(sku="CHAUSS-42", name="Chaussettes rayées"), 3, lyon),
        ],
    )
    service = CarrierServiceFactory(
        carrier=CarrierFactory(code="colissimo", name="Colissimo"), name="Domicile"
    )
    shipment = Shipment.objects.create(
        number="COLIS-2026-000311",
        order=order,
        location=lyon,
        service=service,
        status="in_transit",
        weight_g=900,
        tracking_number="6A23456789012",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A23456789012",
    )
    now = timezone.now()
    for hours, label, place in [
        (30, "Votre colis a été remis à La Poste", "Lyon Gerland"),
        (20, "Votre colis est en cours d'acheminement", "Plateforme Colis Saint-Priest"),
        (4, "Votre colis est arrivé sur son site de distribution", "Lyon 7e"),
    ]:
        TrackingEvent.objects.create(
            shipment=shipment,
            code="X",
            status="in_transit",
            label=label,
            place=place,
            at=now - dt.timedelta(hours=hours),
        )
    return order


def test_tracking_page_at_390_px_has_no_horizontal_scroll(page, live_server, order, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{live_server.url}{order.tracking_path}")

    expect(page.locator("h1")).to_be_visible()
    expect(page.locator(".p-step[aria-current=step]")).to_have_count(1)
    expect(page.locator(".p-event")).to_have_count(3)
    expect(page.locator("#order-documents")).to_be_visible()  # swapped in by htmx from invoicing
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    client_width = page.evaluate("document.documentElement.clientWidth")
    assert scroll_width <= client_width == 390
    font_size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.p-lines li')).fontSize)")
    assert font_size >= 16  # readable without zooming
    screenshot("portal-tracking")


def test_customer_signs_in_and_opens_an_order_from_the_account(page, live_server, order, screenshot):
    from customers import accounts

    accounts.account_set_password(customer=order.customer, password="correct-horse-battery-staple-42")
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{live_server.url}/account/")  # not signed in: the sign-in page
    page.fill("#id_email", "ana.roux@example.fr")
    page.fill("#id_password", "correct-horse-battery-staple-42")
    page.locator("form:has(input[value=password]) button[type=submit]").click()

    expect(page.locator(".p-orders__item")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("portal-account-orders")
    page.locator(".p-orders__item a").click()
    expect(page).to_have_url(f"{live_server.url}{order.tracking_path}")
