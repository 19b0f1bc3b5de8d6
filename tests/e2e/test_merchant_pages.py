"""The merchant's pages in a browser, at 1280 px and 360 px: the catalogue (search, a product with its
image), a customer's page, the complete order page, the phone order's helpers and the settings. Screenshots
land in tests/e2e/artifacts/."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Address, Customer, CustomerNote
from oms.roles import CUSTOMER_SERVICE, MANAGER
from orders.models import Order
from shipping.models import Shipment, ShipmentLine, TrackingEvent
from tests.inventory.factories import ProductFactory, ean13
from tests.orders.factories import MATRIX_ORDER, role_matrix_objects, stock
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 360]


def sign_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def fits(page):
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{width} > {inner}"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def shop(role_users, media):
    """The matrix order shipped with Colissimo (tracking events, label), a customer with notes."""
    role_matrix_objects()
    order = Order.objects.get(number=MATRIX_ORDER)
    customer = order.customer
    Customer.objects.filter(pk=customer.pk).update(
        first_name="Ana",
        last_name="Roux",
        phone="+33612345678",
        company="Roux SARL",
        vat_number="FR40552100554",
    )
    Address.objects.create(customer=customer, name="Ana Roux", line1="3 rue X", postcode="69003", city="Lyon")
    CustomerNote.objects.create(customer=customer, text="Préfère être appelée après 18 h.")
    carrier = CarrierFactory(code="colissimo", name="Colissimo")
    service = CarrierServiceFactory(carrier=carrier, code="home", name="Domicile")
    line = order.lines.get()
    shipment = Shipment.objects.create(
        number=f"{order.number}-1",
        order=order,
        location=line.allocations.get().location,
        service=service,
        status="in_transit",
        weight_g=480,
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        shipped_at=timezone.now() - dt.timedelta(hours=20),
    )
    shipment.label_pdf.save("label.pdf", ContentFile(b"%PDF-1.4 label"), save=True)
    ShipmentLine.objects.create(
        shipment=shipment, order_line=line, product=line.product, sku=line.sku, quantity=line.quantity
    )
    TrackingEvent.objects.create(
        shipment=shipment,
        code="ET1",
        status="in_transit",
        label="Colis en cours d'acheminement",
        at=timezone.now() - dt.timedelta(hours=2),
        place="Lyon PFC",
    )
    return order


@pytest.mark.parametrize("width", WIDTHS)
def test_catalogue_search_and_product_form(page, live_server, role_users, media, screenshot, width):
    ProductFactory(sku="TSHIRT-M", name="T-shirt coton bio M", ean=ean13(1), price=Decimal("24.90"))
    ProductFactory(sku="TASSE-BLEU", name="Tasse en grès bleu", ean=ean13(2), price=Decimal("12.90"))
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, role_users[MANAGER])
    page.goto(f"{live_server.url}/catalogue/")
    expect(page.locator("h1")).to_have_text("Catalogue")
    page.fill("#id_q", "tasse")
    expect(page.locator("#catalogue-results")).not_to_contain_text("TSHIRT-M")
    expect(page.locator("#catalogue-results")).to_contain_text("TASSE-BLEU")
    fits(page)
    screenshot(f"catalogue-{width}")
    page.goto(f"{live_server.url}/catalogue/new/")
    page.fill("#id_sku", "PLAID-GRIS")
    page.fill("#id_name", "Plaid laine gris")
    page.fill("#id_price", "79.90")
    page.select_option("#id_vat_rate", "20.0")
    page.fill("#id_weight_g", "1200")
    fits(page)
    screenshot(f"catalogue-form-{width}")
    page.click("button[type=submit].btn--primary")
    expect(page.locator(".message--success")).to_contain_text("PLAID-GRIS")


@pytest.mark.parametrize("width", WIDTHS)
def test_customer_page(page, live_server, role_users, shop, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, role_users[CUSTOMER_SERVICE])
    page.goto(f"{live_server.url}/customers/?q=roux")
    page.click(f"a[href='/customers/{shop.customer_id}/']")
    expect(page.locator("h1")).to_contain_text("Ana Roux")
    expect(page.locator("#notes")).to_contain_text("Préfère être appelée après 18 h.")
    page.fill("#id_text", "Rappeler pour le colis.")
    page.click("#notes button[type=submit]")
    expect(page.locator("#notes")).to_contain_text("Rappeler pour le colis.")
    expect(page.locator("#customer-documents, .staff-documents")).to_be_visible()  # invoicing's fragment
    expect(page.locator("#customer-returns")).to_be_visible()  # returns' fragment
    fits(page)
    screenshot(f"customer-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_complete_order_page(page, live_server, role_users, shop, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, role_users[MANAGER])
    page.goto(f"{live_server.url}/orders/{shop.number}/")
    parcels = page.locator("#parcels")
    expect(parcels).to_contain_text("Colissimo · Domicile")
    expect(parcels.locator("a[href^='https://www.laposte.fr']")).to_have_text("6A12345678901")
    expect(parcels).to_contain_text("Lyon PFC")
    expect(page.locator("#order-documents, .staff-documents")).to_be_visible()
    expect(page.locator("#tracking-link")).to_have_value(shop.tracking_url)
    page.click("[data-copy='#tracking-link']")
    expect(page.locator("[data-copy='#tracking-link']")).to_have_text("Copié")
    fits(page)
    screenshot(f"order-complete-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_phone_order_helpers(page, live_server, role_users, warehouse, store, screenshot, width):
    from tests.orders.factories import ChannelFactory

    tee = ProductFactory(sku="TSHIRT-M", name="T-shirt coton bio M", ean=ean13(1))
    stock(tee, warehouse, 5)
    ChannelFactory(code="web", name="Web", locations=[warehouse, store])
    ana = Customer.objects.create(email="ana@example.fr", first_name="Ana", last_name="Roux")
    Address.objects.create(customer=ana, line1="3 rue X", postcode="69003", city="Lyon", is_default=True)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, role_users[CUSTOMER_SERVICE])
    page.goto(f"{live_server.url}/orders/new/")
    page.fill("#customer-q", "roux")
    page.locator("#customer-lookup-results [data-fill]").first.click()
    expect(page.locator("#id_email")).to_have_value("ana@example.fr")
    expect(page.locator("#id_postcode")).to_have_value("69003")
    page.fill("#id_lines-0-code", "coton")
    expect(page.locator("#product-options option[value='TSHIRT-M']")).to_have_count(1)
    page.fill("#id_lines-0-code", "TSHIRT-M")
    page.fill("#id_lines-0-quantity", "2")
    page.click("#refresh-options")
    expect(page.locator("#delivery-options")).to_contain_text("Magasin Paris")
    fits(page)
    screenshot(f"phone-order-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_settings_under_the_user_menu(page, live_server, role_users, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, role_users[MANAGER])
    page.goto(f"{live_server.url}/")
    page.click(".user-menu__toggle")
    page.click(".user-menu__panel a[href='/settings/returns/']")
    expect(page.locator("h1")).to_have_text("Réglages des retours")
    fits(page)
    page.goto(f"{live_server.url}/settings/reorder/")
    fits(page)
    screenshot(f"settings-reorder-{width}")


def test_navigation_has_at_most_seven_entries_and_floor_first_on_a_handheld(page, live_server, role_users):
    sign_in(page, live_server, role_users[MANAGER])
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/")
    top = page.locator(".nav--desktop > .nav__link, .nav--desktop > .nav-group")
    assert 1 <= top.count() <= 7
    nav_height = page.locator(".topbar").bounding_box()["height"]
    assert nav_height < 80  # one row
    page.locator(".nav--desktop .nav-group__toggle", has_text="Commandes").click()
    expect(page.locator(".nav--desktop .nav-group[open] .nav-group__panel")).to_contain_text(
        "Risque de retard"
    )
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/")
    page.click(".menu__toggle")
    expect(page.locator(".nav--mobile .nav-section__title").first).to_have_text("Opérations")


@pytest.mark.parametrize("width", WIDTHS)
def test_kit_page(page, live_server, role_users, warehouse, store, screenshot, width):
    from inventory import services as inventory_services

    cafe = ProductFactory(sku="CAFE-ETHIOPIE", name="Café en grains Éthiopie 1 kg", ean=ean13(11))
    jam = ProductFactory(sku="CONFITURE-FRAISE", name="Confiture artisanale fraise", ean=ean13(12))
    honey = ProductFactory(sku="MIEL-LAVANDE", name="Miel de lavande 250 g", ean=ean13(13))
    kit = ProductFactory(
        sku="COFFRET-PETIT-DEJ", name="Coffret petit-déjeuner", ean="", price=Decimal("39.90")
    )
    stock(cafe, warehouse, 12)
    stock(jam, warehouse, 9)
    stock(honey, warehouse, 20)
    stock(cafe, store, 2)
    stock(jam, store, 5)
    inventory_services.kit_set_components(kit=kit, components=[(cafe, 1), (jam, 2)])
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, role_users[MANAGER])
    page.goto(f"{live_server.url}/catalogue/{kit.pk}/kit/")
    expect(page.locator("h1")).to_contain_text("COFFRET-PETIT-DEJ")
    # the manager adds the honey jar: each location's kits follow their scarcest component
    page.fill("#id_components-2-code", "MIEL-LAVANDE")
    page.fill("#id_components-2-quantity", "1")
    page.click("button[type=submit].btn--primary")
    expect(page.locator(".message--success")).to_contain_text("COFFRET-PETIT-DEJ")
    expect(page.locator("#parts-title")).to_be_visible()
    expect(page.locator("main")).to_contain_text("MIEL-LAVANDE")
    fits(page)
    screenshot(f"kit-{width}")
