"""Customer service sees the order's messages (loaded by htmx into the order page), opens one, resends it."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Notification
from oms.roles import CUSTOMER_SERVICE
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, OrderFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def order(db):
    lyon = LocationFactory(code="lyon", kind="warehouse")
    channel = ChannelFactory(code="web", name="Web", locations=[lyon])
    order = OrderFactory(
        number="CMD-2026-000001", channel=channel, lines=[(ProductFactory(sku="TEE"), 1, lyon)]
    )
    Notification.objects.create(
        customer=order.customer,
        order=order,
        kind="shipped",
        language="en",
        recipient=order.customer.email,
        subject="Your order CMD-2026-000001 has shipped",
        body_text="Your order has left our warehouse.",
        body_html="<h1>Your order has shipped</h1>",
        dedup_key="e2e",
        status="failed",
        attempts=10,
        last_error="SMTPServerDisconnected: Connection unexpectedly closed",
    )
    UserFactory(username="camille", role=CUSTOMER_SERVICE)
    return order


def test_customer_service_sees_and_resends_a_failed_message(page, live_server, login, order, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    login("camille")
    page.goto(f"{live_server.url}/orders/CMD-2026-000001/")
    section = page.locator("#order-notifications")  # swapped in by htmx after the page loaded
    expect(section).to_contain_text("SMTPServerDisconnected")
    expect(section.locator('[data-status="failed"]')).to_have_count(1)
    screenshot("order-notifications-section")

    pk = Notification.objects.get().pk
    section.locator(f'a.btn[href$="/notifications/{pk}/"]').click()
    expect(page.frame_locator("iframe.email-preview").locator("h1")).to_have_text("Your order has shipped")
    expect(page.locator("pre.email-text")).to_have_text("Your order has left our warehouse.")
    screenshot("notification-detail")

    page.locator(".page-header a.btn").click()
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".message--success")).to_contain_text(order.customer.email)
    expect(page.locator("#order-notifications tbody tr")).to_have_count(2)
    copy = Notification.objects.get(resend_of__isnull=False)
    assert copy.created_by.username == "camille"
    assert copy.status == "sent" and copy.sent_at <= timezone.now()
