"""Payments: the order's payment state from the channel, the payment hold that keeps an order from picking,
payments recorded by staff, capture on shipment and refund for a credit note through the payment service
(the sandbox here; Stripe and Mollie adapters in test_payment_providers.py), and invoices of orders paid at
checkout saying "acquittée"."""

from decimal import Decimal

import pytest
from django.db import transaction

from fulfillment.models import Preparation
from invoicing.models import Payment
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order
from invoicing.services.mentions import payment_terms_text
from invoicing.services.render import document_context
from orders.exceptions import PaymentRefused
from orders.models import Order, PaymentStatus, PaymentTransaction
from orders.payments import services as payments
from orders.services import lifecycle
from tests.events import events_of
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.invoicing.factories import LegalEntityFactory, consume
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def lyon(db):
    return LocationFactory(code="lyon", kind="warehouse")


@pytest.fixture
def channel(lyon):
    stock(ProductFactory(sku="TEE", price=Decimal("20.00"), vat_rate=Decimal("20.0")), lyon, 10)
    return ChannelFactory(code="web", locations=[lyon])


def test_a_pending_payment_holds_the_order_away_from_picking_until_it_is_recorded(
    channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(
            channel=channel,
            lines=[("TEE", 2)],
            payment={"status": "pending", "provider": "", "reference": ""},
        )

    assert (order.payment_status, order.holds) == (PaymentStatus.PENDING, ["payment"])
    assert not Preparation.objects.filter(order_id=order.pk).exists()  # not released to picking
    assert events_of(order, "order.hold_placed", kind="payment").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_record(order=order, amount=Decimal("40.00"), reference="VIR-123")

    order.refresh_from_db()
    assert (order.payment_status, order.amount_paid, order.holds) == (
        PaymentStatus.PAID,
        Decimal("40.00"),
        [],
    )
    prep = Preparation.objects.get(order_id=order.pk)
    assert [(line.sku, line.quantity) for line in prep.lines.all()] == [("TEE", 2)]
    assert events_of(order, "order.hold_released", kind="payment").count() == 1


def test_a_payment_above_what_is_left_is_refused_and_nothing_changes(channel):
    order = place_order(channel=channel, lines=[("TEE", 1)], payment={"status": "pending"})

    with pytest.raises(PaymentRefused):
        payments.payment_record(order=order, amount=Decimal("20.01"))

    order.refresh_from_db()
    assert (order.amount_paid, order.payment_status, order.holds) == (
        Decimal("0.00"),
        PaymentStatus.PENDING,
        ["payment"],
    )
    assert not PaymentTransaction.objects.filter(order=order).exists()


def test_an_unknown_payment_status_refuses_the_order_whole(channel):
    with pytest.raises(PaymentRefused):
        place_order(channel=channel, lines=[("TEE", 1)], payment={"status": "maybe"})

    assert not Order.objects.exists()


def _ship(order):
    """Move the order to shipped as the floor would (status moves only: the capture follows the status)."""
    with transaction.atomic():
        lifecycle.order_start_preparation(order=Order.objects.get(pk=order.pk))
    with transaction.atomic():
        lifecycle.order_mark_shipped(order=Order.objects.get(pk=order.pk))


def test_capture_on_shipment_through_the_sandbox_once(channel, django_capture_on_commit_callbacks):
    order = place_order(
        channel=channel,
        lines=[("TEE", 2)],
        shipping_fee=Decimal("5.00"),
        payment={"status": "authorised", "amount": "45.00", "provider": "sandbox", "reference": "sbx_pi_1"},
    )
    assert (order.payment_status, order.amount_authorised) == (PaymentStatus.AUTHORISED, Decimal("45.00"))

    with django_capture_on_commit_callbacks(execute=True):
        _ship(order)
    # the same shipment news again (a redelivered event) asks nothing more
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        payments.payment_capture_request(order=order)

    order.refresh_from_db()
    capture = PaymentTransaction.objects.get(order=order, kind="capture")
    assert (capture.status, capture.amount, capture.reference[:8]) == (
        "succeeded",
        Decimal("45.00"),
        "sbx_cpt_",
    )
    assert (order.payment_status, order.amount_paid) == (PaymentStatus.PAID, Decimal("45.00"))
    assert events_of(order, "payment.captured").count() == 1


def test_a_declined_capture_is_failed_on_the_timeline(channel, django_capture_on_commit_callbacks):
    order = place_order(
        channel=channel,
        lines=[("TEE", 1)],
        payment={"status": "authorised", "provider": "sandbox", "reference": "sbx_declined_1"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        _ship(order)

    order.refresh_from_db()
    capture = PaymentTransaction.objects.get(order=order, kind="capture")
    assert capture.status == "failed" and "declines" in capture.error
    assert (order.payment_status, order.amount_paid) == (PaymentStatus.AUTHORISED, Decimal("0.00"))
    assert events_of(order, "payment.failed").count() == 1


def test_paid_at_checkout_invoice_is_acquittee_and_a_credit_note_refunds_through_the_service(
    channel, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    LegalEntityFactory()
    order = place_order(
        channel=channel,
        lines=[("TEE", 2)],
        payment={"status": "paid", "amount": "40.00", "provider": "sandbox", "reference": "sbx_pi_2"},
    )
    consume(order)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        invoice = invoice_issue_for_order(order=order, scope="shipped")

    assert list(Payment.objects.filter(document=invoice).values_list("amount", flat=True)) == [
        Decimal("40.00")
    ]
    assert document_context(invoice)["settled"]["amount"] == Decimal("40.00")
    assert payment_terms_text(invoice).startswith("Facture acquittée le ")

    line = invoice.lines.get()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        note = credit_note_issue(invoice=invoice, quantities={line.pk: 1}, reason="geste")

    order.refresh_from_db()
    refund = PaymentTransaction.objects.get(order=order, kind="refund")
    assert (refund.status, refund.amount, refund.credit_note) == ("succeeded", Decimal("20.00"), note.number)
    assert (order.amount_paid, order.amount_refunded, order.payment_status) == (
        Decimal("40.00"),
        Decimal("20.00"),
        PaymentStatus.PARTIALLY_REFUNDED,
    )
    # payments minus refunds equal what was charged: invoices minus credit notes
    assert order.amount_paid - order.amount_refunded == invoice.total_incl_vat - note.total_incl_vat
