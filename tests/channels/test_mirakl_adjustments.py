"""Cancellations and refunds made on a Mirakl marketplace (OR11's ``cancelations`` / ``refunds`` of each order
line, whoever made them: operator, customer service, or the shop through OR28 / OR30), applied here once
through the poller: units cancelled by the partial cancellation (stock released, refund amount computed,
credit note of units invoiced), refunds credited on the invoices; an id seen twice is applied once."""

from decimal import Decimal

import pytest
import respx
from django.utils import translation

from channels.adjustments import adjustments_apply, mirakl_found
from channels.models import MarketplaceAdjustment, WebhookDelivery
from common.models import DomainEvent
from common.templatetags.oms_tags import money
from invoicing.models import DocumentKind, Invoice
from invoicing.services.entities import channel_billing_save
from orders.models import Order, OrderChange, OrderLine, OrderStatus, PaymentTransaction
from orders.timeline import render
from tests.channels.test_mirakl import MIRAKL, floor, mirakl_order, poll  # noqa: F401
from tests.invoicing.factories import LegalEntityFactory

pytestmark = pytest.mark.django_db


def shipping_order(cancelations=(), refunds=(), updated="2026-12-04T09:00:00Z"):
    order = mirakl_order(
        "FD-55-A",
        state="SHIPPING",
        updated=updated,
        lines=[
            {
                "order_line_id": "FD-55-A-1",
                "offer_sku": "MUG",
                "quantity": 3,
                "price_unit": 9.9,
                "order_line_state": "SHIPPING",
                "cancelations": list(cancelations),
                "refunds": list(refunds),
            },
            {
                "order_line_id": "FD-55-A-2",
                "offer_sku": "SHIRT",
                "quantity": 1,
                "price_unit": 12.5,
                "order_line_state": "SHIPPING",
                "cancelations": [],
                "refunds": [],
            },
        ],
    )
    return order


CANCELATION = {  # OR11 order_lines[].cancelations[] (documented fields)
    "id": "C-9001",
    "amount": 9.9,
    "quantity": 1,
    "reason_code": "17",
    "shipping_amount": 0,
    "created_date": "2026-12-04T09:30:00Z",
    "taxes": [],
    "shipping_taxes": [],
}
REFUND = {  # OR11 order_lines[].refunds[]
    "id": "R-7001",
    "amount": 19.8,
    "quantity": 2,
    "reason_code": "RETURN",
    "shipping_amount": 0,
    "state": "REFUNDED",
    "created_date": "2026-12-05T10:00:00Z",
    "transaction_date": "2026-12-05T10:05:00Z",
    "transaction_number": "TX-88",
}


@pytest.fixture
def invoiced(floor):  # noqa: F811
    """Fnac Darty's orders invoiced when they are placed (so a cancellation or refund has an invoice)."""
    channel_billing_save(channel=floor.fnac, legal_entity=LegalEntityFactory(), issue_policy="placed")
    return floor


def test_a_line_cancelled_on_the_marketplace_is_cancelled_here_once(
    invoiced, django_capture_on_commit_callbacks
):
    with respx.mock(assert_all_called=False) as router:
        poll(invoiced, router, [shipping_order()], django_capture_on_commit_callbacks)
        order = Order.objects.get(channel=invoiced.fnac)
        assert invoiced.level(invoiced.mug).reserved == 3
        # when: the marketplace cancels one mug (the order updated), then the same version comes again
        cancelled = shipping_order(cancelations=[CANCELATION], updated="2026-12-04T09:30:00Z")
        poll(invoiced, router, [cancelled], django_capture_on_commit_callbacks)
        poll(
            invoiced,
            router,
            [shipping_order(cancelations=[CANCELATION], updated="2026-12-04T09:45:00Z")],
            django_capture_on_commit_callbacks,
        )
    # then: one unit cancelled, released, its amount computed, credited on the invoice, once
    mug = OrderLine.objects.get(order=order, sku="MUG")
    assert (mug.quantity, mug.quantity_cancelled) == (2, 1)
    assert invoiced.level(invoiced.mug).reserved == 2
    change = OrderChange.objects.get(order=order)
    assert (change.kind, change.source, change.difference) == ("cancellation", "mirakl", Decimal("-9.90"))
    notes = list(Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE))
    assert [n.total_incl_vat for n in notes] == [Decimal("9.90")]
    row = MarketplaceAdjustment.objects.get()
    assert (row.kind, row.remote_id, row.state, row.quantity) == ("cancellation", "C-9001", "applied", 1)
    assert order.status == OrderStatus.ALLOCATED
    assert not PaymentTransaction.objects.filter(order=order).exists()


def test_more_units_cancelled_than_left_fails_and_changes_nothing(floor, django_capture_on_commit_callbacks):  # noqa: F811
    with respx.mock(assert_all_called=False) as router:
        poll(floor, router, [shipping_order()], django_capture_on_commit_callbacks)
        too_many = {**CANCELATION, "id": "C-9002", "quantity": 5, "amount": 49.5}
        poll(
            floor,
            router,
            [shipping_order(cancelations=[too_many], updated="2026-12-04T09:31:00Z")],
            django_capture_on_commit_callbacks,
        )
    order = Order.objects.get(channel=floor.fnac)
    assert OrderLine.objects.get(order=order, sku="MUG").quantity == 3
    assert floor.level(floor.mug).reserved == 3
    assert not OrderChange.objects.filter(order=order).exists()
    row = MarketplaceAdjustment.objects.get()
    assert (row.state, row.remote_id) == ("failed", "C-9002")
    assert "only 3 unit(s) can still be cancelled" in row.error
    delivery = WebhookDelivery.objects.filter(channel=floor.fnac).order_by("pk").last()
    assert (delivery.status, delivery.error_code) == ("failed", "adjustment_failed")


def test_a_refund_is_credited_on_the_invoice_once_and_not_paid_back_by_us(
    invoiced, django_capture_on_commit_callbacks
):
    with respx.mock(assert_all_called=False) as router:
        poll(invoiced, router, [shipping_order()], django_capture_on_commit_callbacks)
        order = Order.objects.get(channel=invoiced.fnac)
        waiting = {**REFUND, "state": "WAITING_REFUND"}
        poll(
            invoiced,
            router,
            [shipping_order(refunds=[waiting], updated="2026-12-05T10:00:00Z")],
            django_capture_on_commit_callbacks,
        )
        assert not Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE).exists()
        for updated in ("2026-12-05T10:05:00Z", "2026-12-05T11:00:00Z"):
            poll(
                invoiced,
                router,
                [shipping_order(refunds=[REFUND], updated=updated)],
                django_capture_on_commit_callbacks,
            )
    notes = list(Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE))
    assert [(n.total_incl_vat, [line.quantity for line in n.lines.all()]) for n in notes] == [
        (Decimal("19.80"), [2])
    ]
    assert MarketplaceAdjustment.objects.get().state == "applied"
    assert not PaymentTransaction.objects.filter(order=order).exists()
    assert OrderLine.objects.get(order=order, sku="MUG").quantity == 3  # a refund is not a cancellation
    # one event on the order's timeline, told in the reader's language
    (event,) = DomainEvent.objects.filter(order_id=order.pk, code="order.channel_refunded")
    with translation.override("en"):
        assert render(event) == (
            f"Refund R-7001 made on Fnac Darty: {money(Decimal('19.80'))} (Fnac Darty: RETURN (R-7001))."
        )


def test_a_refund_excluded_from_shipment_cancels_the_units(floor, django_capture_on_commit_callbacks):  # noqa: F811
    with respx.mock(assert_all_called=False) as router:
        poll(floor, router, [shipping_order()], django_capture_on_commit_callbacks)
    order = Order.objects.get(channel=floor.fnac)
    found = mirakl_found(
        shipping_order(refunds=[{**REFUND, "id": "R-1", "quantity": 0, "excluded_from_shipment": True}])
    )
    with django_capture_on_commit_callbacks(execute=True):
        summary = adjustments_apply(channel=floor.fnac, order=order, found=found, source="mirakl")
        again = adjustments_apply(channel=floor.fnac, order=order, found=found, source="mirakl")
    assert summary == ["MUG × 2 cancelled (19.80 EUR)"]  # no quantity: the amount over the unit price
    assert again == []
    assert OrderLine.objects.get(order=order, sku="MUG").quantity == 1
    assert floor.level(floor.mug).reserved == 1


def test_adjustments_made_before_the_order_was_taken_are_never_applied(
    floor,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with respx.mock(assert_all_called=False) as router:
        poll(floor, router, [shipping_order(cancelations=[CANCELATION])], django_capture_on_commit_callbacks)
        poll(
            floor,
            router,
            [shipping_order(cancelations=[CANCELATION], updated="2026-12-04T10:00:00Z")],
            django_capture_on_commit_callbacks,
        )
    order = Order.objects.get(channel=floor.fnac)
    assert OrderLine.objects.get(order=order, sku="MUG").quantity == 3
    assert MarketplaceAdjustment.objects.get().state == "before_import"
