"""The goods-receipt scan screen in a browser: scan + Enter, green or red card, focus back on the input."""

import pytest
from playwright.sync_api import expect

from inventory.models import StockLevel, StockMovement
from oms.roles import WAREHOUSE_STAFF
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver(db):
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon Saint-Priest", kind="warehouse")
    ProductFactory(sku="TSHIRT-M", name="T-shirt bleu M", ean="3760000000017")
    return UserFactory(username="receiver", role=WAREHOUSE_STAFF, locations=[lyon])


@pytest.mark.parametrize("width", [360, 1280])
def test_scan_receives_and_keeps_the_focus(page, live_server, login, receiver, screenshot, width):
    page.set_viewport_size({"width": width, "height": 740})
    login("receiver")
    page.goto(f"{live_server.url}/stock/receive/")
    scan = page.locator("#id_code")
    expect(scan).to_be_focused()

    # an accepted scan: green card, the input emptied and focused for the next one
    page.fill("#id_quantity", "3")
    scan.fill("3760000000017")
    scan.press("Enter")
    expect(page.locator(".scan-card--ok")).to_be_visible()
    expect(scan).to_be_focused()
    expect(scan).to_have_value("")
    expect(page.locator("#id_quantity")).to_have_value("1")
    expect(page.locator("#recent-receipts tbody tr")).to_have_count(1)
    screenshot(f"stock-receive-ok-{width}")

    # a refused scan: red card, the code kept and selected so the next scan replaces it
    scan.fill("3000000000007")
    scan.press("Enter")
    expect(page.locator(".scan-card--refused")).to_be_visible()
    expect(scan).to_be_focused()
    selected = "(e => e.value.substring(e.selectionStart, e.selectionEnd))(document.activeElement)"
    assert page.evaluate(selected) == "3000000000007"
    screenshot(f"stock-receive-refused-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    assert StockLevel.objects.get().on_hand == 3
    assert StockMovement.objects.count() == 1
