"""The back office's view of the customer's messages: the order page section, one message, resend, list."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from customers.models import Notification
from oms.roles import CUSTOMER_SERVICE, STORE_STAFF
from tests.inventory.factories import ProductFactory
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(warehouse):
    return OrderFactory(number="CMD-N-1", lines=[(ProductFactory(), 1, warehouse)])


def _message(order, **kwargs):
    fields = {
        "customer": order.customer,
        "order": order,
        "kind": "shipped",
        "language": "en",
        "recipient": order.customer.email,
        "subject": f"Your order {order.number} has shipped",
        "body_text": "Your order has left our warehouse.\nTracking: 6A123",
        "body_html": '<p>Your order has left <a href="https://x.test/track/t/">Follow</a></p>',
        "dedup_key": f"k-{Notification.objects.count()}",
        "status": "sent",
        "attempts": 1,
        "sent_at": timezone.now(),
    }
    fields.update(kwargs)
    return Notification.objects.create(**fields)


@pytest.fixture
def cs(client, role_users):
    client.force_login(role_users[CUSTOMER_SERVICE])
    return client


def test_order_page_loads_the_section_for_customer_service_only(client, role_users, order):
    url = reverse("orders:order_detail", args=[order.number])
    client.force_login(role_users[CUSTOMER_SERVICE])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'hx-get="{reverse("orders:order_notifications", args=[order.number])}"' in html
    client.force_login(role_users[STORE_STAFF])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "order_notifications" not in html and 'id="notifications"' not in html


def test_the_fragment_lists_each_message_with_status_and_error(cs, order, django_assert_max_num_queries):
    sent = _message(order)
    failed = _message(
        order,
        kind="delivered",
        status="failed",
        attempts=10,
        sent_at=None,
        last_error="SMTPServerDisconnected: x",
    )
    retrying = _message(
        order,
        kind="out_for_delivery",
        status="pending",
        attempts=2,
        sent_at=None,
        last_error="OSError: timed out",
        next_attempt_at=timezone.now(),
    )
    url = reverse("orders:order_notifications", args=[order.number])
    with django_assert_max_num_queries(12):
        response = cs.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a fragment
    assert html.count('data-status="sent"') == 1 and html.count('data-status="failed"') == 1
    assert "SMTPServerDisconnected: x" in html and "next attempt" in html
    for message in (sent, failed, retrying):
        assert reverse("orders:notification_detail", args=[order.number, message.pk]) in html
    # resend offered for the sent and the failed message, not for the one still on its way
    assert reverse("orders:notification_resend", args=[order.number, sent.pk]) in html
    assert reverse("orders:notification_resend", args=[order.number, failed.pk]) in html
    assert reverse("orders:notification_resend", args=[order.number, retrying.pk]) not in html
    # without htmx: a page of its own
    assert "<html" in cs.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_a_message_shows_its_html_in_a_sandbox_and_its_text(cs, order):
    message = _message(order)
    html = cs.get(
        reverse("orders:notification_detail", args=[order.number, message.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    preview_url = reverse("orders:notification_preview", args=[order.number, message.pk])
    assert 'sandbox="" referrerpolicy="no-referrer"' in html and f'src="{preview_url}"' in html
    assert "Tracking: 6A123" in html
    assert message.subject in html and message.recipient in html

    # the frame's document: the HTML part as sent, under a policy of its own (inline styles of emails, no
    # script, framed by our pages only)
    preview = cs.get(preview_url)
    assert preview.status_code == 200
    assert (
        preview.content.decode() == '<p>Your order has left <a href="https://x.test/track/t/">Follow</a></p>'
    )
    assert sorted(preview["Content-Security-Policy"].split("; ")) == [
        "base-uri 'none'",
        "default-src 'none'",
        "font-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "img-src 'self' data: https:",
        "sandbox",
        "style-src 'unsafe-inline'",
    ]
    assert preview["X-Frame-Options"] == "SAMEORIGIN"


def test_a_message_of_another_order_is_not_found(cs, order, warehouse):
    other = OrderFactory(number="CMD-N-2", lines=[(ProductFactory(), 1, warehouse)])
    message = _message(other)
    response = cs.get(reverse("orders:notification_detail", args=[order.number, message.pk]))
    assert response.status_code == 404
    assert cs.get(reverse("orders:notification_preview", args=[order.number, message.pk])).status_code == 404


def test_resend_queues_a_copy_and_sends_it(cs, role_users, order, django_capture_on_commit_callbacks):
    message = _message(order)
    url = reverse("orders:notification_resend", args=[order.number, message.pk])
    assert "Send again" in cs.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = cs.post(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:order_detail", args=[order.number]) + "#notifications"
    copy = Notification.objects.get(resend_of=message)
    assert (copy.status, copy.created_by, copy.subject) == (
        "sent",
        role_users[CUSTOMER_SERVICE],
        message.subject,
    )
    [sent] = mail.outbox
    assert sent.to == [order.customer.email] and sent.subject == message.subject
    page = cs.get(reverse("orders:order_detail", args=[order.number]), HTTP_ACCEPT_LANGUAGE="en")
    assert "will be sent again" in page.content.decode()


def test_resend_of_a_message_on_its_way_is_refused(cs, order):
    message = _message(order, status="pending", sent_at=None, attempts=0)
    response = cs.post(
        reverse("orders:notification_resend", args=[order.number, message.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "still being sent" in response.content.decode()
    assert Notification.objects.count() == 1


def test_store_staff_cannot_resend(client, role_users, order):
    message = _message(order)
    client.force_login(role_users[STORE_STAFF])
    response = client.post(reverse("orders:notification_resend", args=[order.number, message.pk]))
    assert response.status_code == 403
    assert Notification.objects.count() == 1


def test_the_list_filters_by_status(cs, order, django_assert_max_num_queries):
    _message(order)
    _message(order, kind="delivered", status="failed", sent_at=None, last_error="refused")
    url = reverse("orders:notification_list")
    with django_assert_max_num_queries(10):
        html = cs.get(url + "?status=failed", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('data-status="failed"') == 1 and 'data-status="sent"' not in html
    assert "refused" in html
    html = cs.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count("<tbody>") == 1 and html.count('data-status="') == 2
