"""An authorisation nothing will be captured from is voided at the payment service: the order cancelled whole,
or unit by unit down to nothing, before it shipped. A job like a capture (one per order, its idempotency key),
the order's payment "authorisation cancelled" on its page and in the API. A partial cancellation only lowers
what the capture will take."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE
from orders.models import Order, PaymentStatus, PaymentTransaction
from orders.payments import services as payments
from orders.services import lifecycle
from orders.services.api_keys import api_key_create
from orders.services.edits import order_lines_cancel
from tests.api.conftest import Api
from tests.events import events_of
from tests.inventory.factories import ProductFactory
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(warehouse):
    lyon = warehouse
    stock(ProductFactory(sku="TEE", price=Decimal("20.00"), vat_rate=Decimal("20.0")), lyon, 10)
    stock(ProductFactory(sku="MUG", price=Decimal("8.00"), vat_rate=Decimal("20.0")), lyon, 10)
    return ChannelFactory(code="web", locations=[lyon])


def _authorised(channel, reference="sbx_pi_1", provider="sandbox"):
    return place_order(
        channel=channel,
        lines=[("TEE", 2), ("MUG", 1)],
        shipping_fee=Decimal("5.00"),
        payment={"status": "authorised", "amount": "53.00", "provider": provider, "reference": reference},
    )


def test_cancelling_an_authorised_order_voids_the_authorisation_once(
    channel, django_capture_on_commit_callbacks
):
    order = _authorised(channel)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_cancel(order=Order.objects.get(pk=order.pk), reason="customer")
    # the news handled again (a redelivered event) asks nothing more
    with django_capture_on_commit_callbacks(execute=True):
        again = payments.payment_void_request(order=order)

    order.refresh_from_db()
    void = PaymentTransaction.objects.get(order=order, kind="void")
    assert again is None  # voided already: nothing more is asked
    assert PaymentTransaction.objects.filter(order=order, kind="void").count() == 1
    assert (void.status, void.amount, void.reference[:9], void.idempotency_key) == (
        "succeeded",
        Decimal("53.00"),
        "sbx_void_",
        f"void-{order.pk}",
    )
    assert (order.payment_status, order.amount_authorised, order.amount_paid) == (
        PaymentStatus.VOIDED,
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert events_of(order, "payment.voided").count() == 1
    assert not PaymentTransaction.objects.filter(order=order, kind__in=["capture", "refund"]).exists()
    assert (payments.amount_due(order), payments.amount_to_capture(order)) == (Decimal("0"), Decimal("0"))


def test_a_partial_cancellation_lowers_the_capture_and_voids_nothing(
    channel, django_capture_on_commit_callbacks
):
    order = _authorised(channel)
    mug = order.lines.get(sku="MUG")

    with django_capture_on_commit_callbacks(execute=True):
        order_lines_cancel(order=order, quantities={mug.pk: 1})

    order.refresh_from_db()
    assert not PaymentTransaction.objects.filter(order=order, kind="void").exists()
    assert order.payment_status == PaymentStatus.AUTHORISED
    assert payments.amount_to_capture(order) == Decimal("45.00")
    assert payments.amount_due(order) == Decimal("0")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_start_preparation(order=Order.objects.get(pk=order.pk))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_mark_shipped(order=Order.objects.get(pk=order.pk))

    order.refresh_from_db()
    assert PaymentTransaction.objects.get(order=order, kind="capture").amount == Decimal("45.00")
    assert (order.payment_status, order.amount_paid) == (PaymentStatus.PAID, Decimal("45.00"))


def test_cancelling_every_unit_voids_the_authorisation(channel, django_capture_on_commit_callbacks):
    order = _authorised(channel)
    tee, mug = order.lines.get(sku="TEE"), order.lines.get(sku="MUG")

    with django_capture_on_commit_callbacks(execute=True):
        order_lines_cancel(order=order, quantities={tee.pk: 2, mug.pk: 1})

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert PaymentTransaction.objects.filter(order=order, kind="void", status="succeeded").count() == 1
    assert order.payment_status == PaymentStatus.VOIDED


def test_a_refused_void_is_failed_and_the_authorisation_stays(channel, django_capture_on_commit_callbacks):
    order = _authorised(channel, reference="sbx_declined_7")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_cancel(order=Order.objects.get(pk=order.pk), reason="customer")

    order.refresh_from_db()
    void = PaymentTransaction.objects.get(order=order, kind="void")
    assert void.status == "failed" and "declines" in void.error
    assert (order.payment_status, order.amount_authorised) == (PaymentStatus.AUTHORISED, Decimal("53.00"))
    assert events_of(order, "payment.failed", kind="void").count() == 1
    assert not events_of(order, "payment.voided").exists()


def test_no_void_for_a_payment_managed_elsewhere(channel, django_capture_on_commit_callbacks):
    order = _authorised(channel, provider="shopify_payments", reference="gid://1")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        lifecycle.order_cancel(order=Order.objects.get(pk=order.pk), reason="customer")

    order.refresh_from_db()
    assert not PaymentTransaction.objects.filter(order=order).exists()
    assert order.payment_status == PaymentStatus.AUTHORISED


def test_the_page_and_the_api_show_the_voided_authorisation(
    client, role_users, channel, django_capture_on_commit_callbacks
):
    order = _authorised(channel)
    mug = order.lines.get(sku="MUG")
    client.force_login(role_users[CUSTOMER_SERVICE])
    page = client.get(reverse("orders:order_detail", args=[order.number]), HTTP_ACCEPT_LANGUAGE="en")
    assert "To capture when it ships" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orders:order_lines_cancel", args=[order.number]), {f"cancel_{mug.pk}": "1"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orders:order_cancel", args=[order.number]), {"reason": "customer"})

    order.refresh_from_db()
    assert order.status == "cancelled"
    page = client.get(reverse("orders:order_detail", args=[order.number]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert "Authorisation cancelled" in html
    assert "To capture when it ships" not in html
    _key, secret = api_key_create(channel=channel, scopes=["all"])
    body = Api(secret).get(f"/orders/{order.number}/payments/").json()
    assert (body["status"], body["amount_authorised"], body["amount_to_capture"], body["amount_due"]) == (
        "voided",
        "0.00",
        "0.00",
        "0.00",
    )
    assert [(t["kind"], t["status"], t["amount"]) for t in body["transactions"]] == [
        ("void", "succeeded", "53.00")
    ]
    order_body = Api(secret).get(f"/orders/{order.number}/").json()
    assert order_body["payment"]["status"] == "voided"
