"""Goodwill refunds ("geste commercial"): an amount given back on an order without units coming back. The
service's limits and key, the order's lock, the credit note split by VAT rate like the invoice (or waiting
for an invoice not issued yet), the refund through the payment service, the customer's message, the
timeline and the webhook's event type."""

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction
from django.db.models import Sum

from customers.models import Notification
from integrations.webhooks.catalogue import event_type_for
from invoicing.models import DocumentKind, Invoice, InvoiceLine, PendingCredit
from invoicing.services.issue import invoice_issue_for_order, on_order_event, split_by_rate
from orders.exceptions import IdempotencyKeyReused, InvalidOrder, RefundRefused
from orders.models import GoodwillRefund, Order, PaymentTransaction
from orders.services.goodwill import goodwill_room, order_goodwill_refund
from orders.timeline import order_timeline
from tests.events import events_of
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.invoicing.factories import LegalEntityFactory, consume
from tests.orders.factories import ChannelFactory, place_order, stock

pytestmark = pytest.mark.django_db

PAID = {"status": "paid", "amount": "55.00", "provider": "sandbox", "reference": "sbx_pi_gw"}


@pytest.fixture
def channel(db):
    lyon = LocationFactory(code="lyon", kind="warehouse")
    stock(ProductFactory(sku="TEE", price=Decimal("20.00"), vat_rate=Decimal("20.0")), lyon, 10)
    stock(ProductFactory(sku="BOOK", price=Decimal("10.00"), vat_rate=Decimal("5.5")), lyon, 10)
    LegalEntityFactory()
    return ChannelFactory(code="web", locations=[lyon])


def _order(channel, **kwargs) -> Order:
    # 2 × 20.00 at 20 %, 1 × 10.00 at 5.5 %, shipping 5.00 at 20 %: 55.00
    return place_order(
        channel=channel, lines=[("TEE", 2), ("BOOK", 1)], shipping_fee=Decimal("5.00"), **kwargs
    )


def _shipped_and_invoiced(order, capture) -> Invoice:
    consume(order)
    with capture(execute=True), transaction.atomic():
        return invoice_issue_for_order(order=order, scope="shipped")


def _refund(order, capture, **kwargs):
    values = {"amount": Decimal("11.00"), "reason": "late_delivery", "note": "Colis en retard", "key": "k1"}
    values.update(kwargs)
    with capture(execute=True):
        return order_goodwill_refund(order=order, **values)


def _totals(order, kind) -> Decimal:
    return Invoice.objects.filter(order=order, kind=kind).aggregate(t=Sum("total_incl_vat"))["t"] or Decimal(
        0
    )


def test_a_goodwill_refund_credits_the_amount_split_by_vat_and_refunds_it_once(
    channel, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    order = _order(channel, payment=PAID)
    invoice = _shipped_and_invoiced(order, capture)

    refund, created = _refund(order, capture)

    assert created and (refund.amount, refund.reason, refund.source) == (
        Decimal("11.00"),
        "late_delivery",
        "backoffice",
    )
    (event,) = events_of(order, "order.goodwill_refunded")
    assert (event.payload["refund"], event.payload["amount"]) == (refund.pk, "11.00")
    # the credit note: one amount line per VAT rate, in proportion of the invoice (45.00 at 20 %, 10.00 at
    # 5.5 %): 9.00 and 2.00, with the VAT the invoice charged on them
    (note,) = Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE)
    assert note.corrects_id == invoice.pk
    lines = list(
        note.lines.order_by("position").values_list(
            "kind", "quantity", "vat_rate", "total_incl_vat", "total_vat"
        )
    )
    assert lines == [
        (InvoiceLine.Kind.GOODWILL, 1, Decimal("20.0"), Decimal("9.00"), Decimal("1.50")),
        (InvoiceLine.Kind.GOODWILL, 1, Decimal("5.5"), Decimal("2.00"), Decimal("0.10")),
    ]
    assert (note.total_incl_vat, note.total_vat, note.total_excl_vat) == (
        Decimal("11.00"),
        Decimal("1.60"),
        Decimal("9.40"),
    )
    assert note.reason.endswith("(Colis en retard)")
    # the money: one refund through the payment service (not a second one for the credit note)
    (tx,) = PaymentTransaction.objects.filter(order=order, kind="refund")
    assert (tx.amount, tx.status, tx.provider) == (Decimal("11.00"), "succeeded", "sandbox")
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("11.00")
    assert _totals(order, DocumentKind.INVOICE) - _totals(order, DocumentKind.CREDIT_NOTE) == (
        order.amount_paid - order.amount_refunded
    )
    # the customer is told, the timeline says it, webhooks send it as order.refunded
    (message,) = Notification.objects.filter(order=order, kind="refund_issued", channel="email")
    assert "11" in message.body_text
    entry = next(e for e in order_timeline(order=order) if e.type == "order.goodwill_refunded")
    assert "11" in entry.message and "Colis en retard" in entry.message
    assert event_type_for("order.goodwill_refunded") == "order.refunded"


def test_the_same_key_refunds_once_and_another_amount_under_it_is_refused(
    channel, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    order = _order(channel, payment=PAID)
    _shipped_and_invoiced(order, capture)
    first, _ = _refund(order, capture)

    again, created = _refund(order, capture)
    with pytest.raises(IdempotencyKeyReused):
        _refund(order, capture, amount=Decimal("12.00"))

    assert (again.pk, created) == (first.pk, False)
    assert GoodwillRefund.objects.filter(order=order).count() == 1
    assert events_of(order, "order.goodwill_refunded").count() == 1
    assert Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE).count() == 1
    assert PaymentTransaction.objects.filter(order=order, kind="refund").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount": Decimal("0.00")}, InvalidOrder),
        ({"amount": Decimal("-5")}, InvalidOrder),
        ({"reason": "because"}, InvalidOrder),
        ({"note": "  "}, InvalidOrder),
        ({"amount": Decimal("44.01")}, RefundRefused),  # 55.00 less 11.00 given back already
    ],
)
def test_refusals_change_nothing(channel, django_capture_on_commit_callbacks, kwargs, error):
    capture = django_capture_on_commit_callbacks
    order = _order(channel, payment=PAID)
    _shipped_and_invoiced(order, capture)
    _refund(order, capture)
    assert goodwill_room(Order.objects.select_related("channel").get(pk=order.pk)) == Decimal("44.00")

    with pytest.raises(error):
        _refund(order, capture, key="k2", **kwargs)

    assert GoodwillRefund.objects.filter(order=order).count() == 1
    assert Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE).count() == 1
    assert PaymentTransaction.objects.filter(order=order, kind="refund").count() == 1
    # the rest can still be given back, to the cent
    refund, created = _refund(order, capture, key="k3", amount=Decimal("44.00"))
    assert created
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("55.00")
    assert _totals(order, DocumentKind.INVOICE) == _totals(order, DocumentKind.CREDIT_NOTE)


def test_nothing_can_be_given_back_before_anything_is_paid_or_invoiced(channel):
    order = _order(channel)  # no payment, not shipped, not invoiced

    with pytest.raises(RefundRefused) as refused:
        order_goodwill_refund(order=order, amount=Decimal("5"), reason="other", note="x", key="k")

    assert refused.value.details["left"] == "0.00"
    assert not GoodwillRefund.objects.exists()
    assert not events_of(order, "order.goodwill_refunded").exists()


def test_an_order_not_invoiced_yet_gets_its_credit_note_right_after_its_invoice(
    channel, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    order = _order(channel, payment=PAID)  # invoiced when it ships (the default policy)

    _refund(order, capture, amount=Decimal("5.00"), reason="shipping_charge")

    assert not Invoice.objects.filter(order=order).exists()
    (pending,) = PendingCredit.objects.filter(order=order)
    assert (pending.amount, pending.credited_at) == (Decimal("5.00"), None)
    assert PaymentTransaction.objects.get(order=order, kind="refund").amount == Decimal("5.00")

    consume(order)
    with capture(execute=True):
        invoice = on_order_event(order=order, event="shipped")

    (note,) = Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE)
    assert (note.corrects_id, note.total_incl_vat) == (invoice.pk, Decimal("5.00"))
    pending.refresh_from_db()
    assert (pending.amount, pending.credited_at is not None) == (Decimal("0.00"), True)
    order.refresh_from_db()
    assert _totals(order, DocumentKind.INVOICE) - _totals(order, DocumentKind.CREDIT_NOTE) == (
        order.amount_paid - order.amount_refunded
    )
    # the refund is not credited twice
    assert PaymentTransaction.objects.filter(order=order, kind="refund").count() == 1


def test_split_by_rate_adds_up_to_the_cent_and_never_exceeds_a_rate():
    room = {
        Decimal("20.0"): Decimal("33.33"),
        Decimal("5.5"): Decimal("33.33"),
        Decimal("10.0"): Decimal("33.34"),
    }
    shares = split_by_rate(Decimal("10.00"), room)
    assert sum(shares.values()) == Decimal("10.00")
    assert all(shares[rate] <= room[rate] for rate in shares)
    assert split_by_rate(Decimal("100.00"), room) == room


@pytest.mark.django_db(transaction=True)
def test_two_refunds_at_once_never_give_back_more_than_the_order_holds(channel):
    order = _order(channel, payment=PAID)
    consume(order)
    with transaction.atomic():
        invoice_issue_for_order(order=order, scope="shipped")
    results: list = []
    barrier = threading.Barrier(2)

    def refund(key):
        close_old_connections()
        try:
            barrier.wait()
            order_goodwill_refund(order=order, amount=Decimal("30.00"), reason="service", note="x", key=key)
            results.append("ok")
        except RefundRefused:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=refund, args=(key,)) for key in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["ok", "refused"]  # the order's lock serialises them: 30 + 30 > 55
    assert GoodwillRefund.objects.filter(order=order).aggregate(t=Sum("amount"))["t"] == Decimal("30.00")
