"""A customer exchanges a T-shirt for the next size from their phone (390 px): the return request page
offers the other sizes, the exchange is requested, and once accepted the replacement ships as a new order
linked to the return. Screenshot in docs/ (refreshed with ``OMS_UPDATE_DOCS=1``)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import Allocation
from returns import services
from returns.models import Return
from shipping.models import Shipment
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory, CustomerFactory, OrderFactory, stock
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def delivered(db):
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    LocationFactory(code="paris", name="Magasin Paris", kind="store", city="Paris", postcode="75004")
    channel = ChannelFactory(code="web", name="Boutique web", locations=[lyon])
    medium = ProductFactory(sku="PULL-M", name="Pull mérinos bleu nuit, taille M", price=Decimal("59.00"))
    large = ProductFactory(sku="PULL-L", name="Pull mérinos bleu nuit, taille L", price=Decimal("59.00"))
    ProductFactory(sku="PULL-XL", name="Pull mérinos bleu nuit, taille XL", price=Decimal("64.00"))
    stock(large, lyon, 5)
    order = OrderFactory(
        number="CMD-2026-004218",
        channel=channel,
        status="delivered",
        customer=CustomerFactory(email="ana.roux@example.fr", first_name="Ana", last_name="Roux"),
        ship_name="Ana Roux",
        lines=[(medium, 1, lyon)],
        total_incl_vat=Decimal("59.00"),
    )
    delivered_at = timezone.now() - dt.timedelta(days=3)
    Allocation.objects.filter(order=order).update(consumed_at=delivered_at)
    Shipment.objects.create(
        number="COLIS-2026-000312",
        order=order,
        location=lyon,
        service=CarrierServiceFactory(carrier=CarrierFactory(code="colissimo", name="Colissimo")),
        status="delivered",
        weight_g=600,
        delivered_at=delivered_at,
    )
    return order


def test_exchange_for_another_size_from_the_portal_at_390_px(
    page, live_server, delivered, screenshot, docs_image
):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/track/{delivered.tracking_token}/returns/new/")
    line = delivered.lines.get()
    page.fill(f"#qty_{line.pk}", "1")
    page.select_option(
        f"#reason_{line.pk}", label=page.locator(f"#reason_{line.pk} option").nth(1).inner_text()
    )
    options = page.locator(f"#exchange_{line.pk} option")
    expect(options).to_have_count(4)  # refund, the same, L, XL
    page.select_option(f"#exchange_{line.pk}", "PULL-L")
    page.check("#method_store")
    page.select_option("#store", label="Magasin Paris · Paris")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    docs_image(screenshot("portal-exchange-390"), "portal-exchange.png")
    page.click("button[type=submit]")

    ret = Return.objects.get()
    assert ret.lines.get().exchange_product.sku == "PULL-L"
    expect(page.locator("body")).to_contain_text(ret.number)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    services.return_accept(ret=ret)  # customer service accepts: the L is reserved and ships as a new order
    ret.refresh_from_db()
    assert [(x.sku, x.quantity) for x in ret.exchange_order.lines.all()] == [("PULL-L", 1)]
    assert ret.exchange_order.amount_paid == Decimal("59.00")  # paid by the returned M
