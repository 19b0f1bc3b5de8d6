"""The commercial gesture's form on the order page (htmx): shown to staff who may change orders while
something can be given back, a refusal comes back in place with its reason and nothing typed lost, a done one
reloads the page; the same form sent twice refunds once."""

from decimal import Decimal

import pytest
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE, WAREHOUSE_STAFF
from orders.models import GoodwillRefund
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def paid(warehouse):
    stock(ProductFactory(sku="TEE", price=Decimal("20.00")), warehouse, 10)
    channel = ChannelFactory(code="web", locations=[warehouse])
    return place_order(
        channel=channel,
        lines=[("TEE", 2)],
        payment={"status": "paid", "amount": "40.00", "provider": "", "reference": ""},
    )


def _post(client, order, **data):
    body = {"amount": "5.00", "reason": "late_delivery", "note": "Colis en retard", "key": "f1", **data}
    return client.post(reverse("orders:order_goodwill", args=[order.number]), body, **HTMX)


def test_the_form_is_on_the_page_and_gives_back_once(
    client, role_users, paid, django_capture_on_commit_callbacks
):
    client.force_login(role_users[CUSTOMER_SERVICE])
    page = client.get(reverse("orders:order_detail", args=[paid.number])).content.decode()
    assert f'hx-post="{reverse("orders:order_goodwill", args=[paid.number])}"' in page
    assert 'max="40.00"' in page

    with django_capture_on_commit_callbacks(execute=True):
        first = _post(client, paid)
        again = _post(client, paid)  # a double click: the same form's key

    assert first.status_code == 200 and first["HX-Redirect"] == reverse(
        "orders:order_detail", args=[paid.number]
    )
    assert again.status_code == 200
    refund = GoodwillRefund.objects.get(order=paid)
    assert (refund.amount, refund.actor.username, refund.source) == (Decimal("5.00"), "cs", "backoffice")
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("5.00")  # no payment service: recorded as made
    page = client.get(reverse("orders:order_detail", args=[paid.number]), HTTP_ACCEPT_LANGUAGE="en")
    assert "Commercial gesture: €5.00 given back" in page.content.decode()


def test_too_much_comes_back_in_place_with_the_reason_and_nothing_changes(client, role_users, paid):
    client.force_login(role_users[CUSTOMER_SERVICE])

    response = _post(client, paid, amount="40.01", note="à garder")

    assert response.status_code == 200 and "HX-Redirect" not in response
    html = response.content.decode()
    assert 'id="goodwill"' in html and 'class="field__error"' in html
    assert 'value="à garder"' in html  # what was typed is kept
    assert not GoodwillRefund.objects.exists()


def test_without_htmx_it_redirects_with_a_message(client, role_users, paid):
    client.force_login(role_users[CUSTOMER_SERVICE])
    url = reverse("orders:order_goodwill", args=[paid.number])

    done = client.post(url, {"amount": "5.00", "reason": "other", "note": "x", "key": "f2"})

    assert done.status_code == 302 and GoodwillRefund.objects.count() == 1


def test_no_form_before_anything_is_paid_and_warehouse_staff_are_refused(client, role_users, warehouse):
    stock(ProductFactory(sku="MUG", price=Decimal("8.00")), warehouse, 5)
    unpaid = place_order(channel=ChannelFactory(code="shop", locations=[warehouse]), lines=[("MUG", 1)])
    client.force_login(role_users[CUSTOMER_SERVICE])
    page = client.get(reverse("orders:order_detail", args=[unpaid.number])).content.decode()
    assert reverse("orders:order_goodwill", args=[unpaid.number]) not in page

    client.force_login(role_users[WAREHOUSE_STAFF])
    response = _post(client, unpaid)
    assert response.status_code in (403, 404)
    assert not GoodwillRefund.objects.exists()
