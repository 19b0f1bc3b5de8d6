"""A marketplace's refund of units on an order not invoiced yet (its channel invoices on delivery) is not lost
for the accountant: it waits as a pending credit, and the credit note that corrects the invoice is issued
right after it. Invoices less credit notes equal what the buyer finally paid, on each path."""

from decimal import Decimal

import httpx
import pytest
import respx
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from channels.models import ChannelConnection
from invoicing.models import DocumentKind, Invoice, PendingCredit
from invoicing.services.entities import channel_billing_save
from invoicing.services.issue import on_order_event
from orders.models import Order
from tests.channels.test_mirakl import floor, poll  # noqa: F401
from tests.channels.test_mirakl_adjustments import REFUND, shipping_order
from tests.invoicing.factories import LegalEntityFactory

pytestmark = pytest.mark.django_db


def _total(order, kind) -> Decimal:
    return Invoice.objects.filter(order=order, kind=kind).aggregate(t=Sum("total_incl_vat"))["t"] or Decimal(
        0
    )


@pytest.fixture
def on_delivery(floor):  # noqa: F811
    channel_billing_save(channel=floor.fnac, legal_entity=LegalEntityFactory(), issue_policy="delivered")
    ChannelConnection.objects.filter(channel=floor.fnac).update(push_stock=False)
    return floor


def test_a_refund_before_the_invoice_is_credited_right_after_it(
    on_delivery, django_capture_on_commit_callbacks
):
    with respx.mock(assert_all_called=False) as router:
        poll(on_delivery, router, [shipping_order()], django_capture_on_commit_callbacks)
        order = Order.objects.get(channel=on_delivery.fnac)
        paid_before = order.total_incl_vat
        refund = {**REFUND, "id": "R-1", "quantity": 1, "amount": 9.9}
        # when: the marketplace refunds one mug before our invoice exists (twice the same version)
        for updated in ("2026-12-05T10:05:00Z", "2026-12-05T11:00:00Z"):
            poll(
                on_delivery,
                router,
                [shipping_order(refunds=[refund], updated=updated)],
                django_capture_on_commit_callbacks,
            )
    # then: nothing to credit yet, the refund waits
    assert not Invoice.objects.filter(order=order).exists()
    (pending,) = PendingCredit.objects.filter(order=order)
    assert pending.credited_at is None and sum(pending.quantities.values()) == 1
    # when: the order is invoiced (delivered)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = on_order_event(order=order, event="delivered")
    # then: the credit note corrects that invoice, and invoices less credit notes = what the buyer paid
    (note,) = Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE)
    assert note.corrects_id == invoice.pk
    assert note.total_incl_vat == Decimal("9.90")
    assert _total(order, DocumentKind.INVOICE) - _total(order, DocumentKind.CREDIT_NOTE) == (
        paid_before - Decimal("9.90")
    )
    pending.refresh_from_db()
    assert pending.credited_at is not None
    # a second invoice run credits nothing more, and decides so without a savepoint (one rolled back makes
    # psycopg deallocate every statement prepared on the connection)
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        assert on_order_event(order=order, event="delivered") is None
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    assert Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE).count() == 1


def test_units_cancelled_before_invoicing_are_not_on_the_invoice(
    on_delivery, django_capture_on_commit_callbacks
):
    with respx.mock(assert_all_called=False) as router:
        poll(on_delivery, router, [shipping_order()], django_capture_on_commit_callbacks)
        order = Order.objects.get(channel=on_delivery.fnac)
        excluded = {**REFUND, "id": "R-2", "quantity": 1, "amount": 9.9, "excluded_from_shipment": True}
        poll(
            on_delivery,
            router,
            [shipping_order(refunds=[excluded], updated="2026-12-05T10:05:00Z")],
            django_capture_on_commit_callbacks,
        )
        router.put(url__regex=r".*/orders/cancel").mock(return_value=httpx.Response(200, json={}))
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        on_order_event(order=order, event="delivered")
    assert not Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE).exists()
    assert _total(order, DocumentKind.INVOICE) == order.total_incl_vat
