import pytest
from playwright.sync_api import expect

from oms.roles import MANAGER
from orders.models import Order
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, OrderFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def orders(db):
    lyon = LocationFactory(code="lyon", kind="warehouse")
    channel = ChannelFactory(code="web", name="Web", locations=[lyon])
    tee = ProductFactory(sku="TEE")
    OrderFactory(number="CMD-2026-000001", channel=channel, lines=[(tee, 1, lyon)])
    OrderFactory(
        number="CMD-2026-000002", channel=channel, status=Order.Status.SHIPPED, lines=[(tee, 2, lyon)]
    )
    UserFactory(username="boss", role=MANAGER)


@pytest.mark.parametrize("width", [1280, 360])
def test_filtering_the_order_list_swaps_the_results_and_pushes_the_url(
    page, live_server, login, orders, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 800})
    login("boss")
    page.goto(f"{live_server.url}/orders/")
    expect(page.locator("#order-results tbody tr")).to_have_count(2)
    page.click(".dropdown__toggle")
    page.check("input[name=status][value=shipped]")
    expect(page.locator("#order-results tbody tr")).to_have_count(1)
    expect(page).to_have_url(f"{live_server.url}/orders/?status=shipped&per_page=50")
    expect(page.locator("#order-results")).to_contain_text("CMD-2026-000002")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(f"orders-list-{width}")
    page.click("text=CMD-2026-000002")
    expect(page.locator("h1")).to_contain_text("CMD-2026-000002")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(f"order-detail-{width}")
