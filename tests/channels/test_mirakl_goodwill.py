"""Goodwill refunds of a Mirakl order, both ways: ours are sent as OR28 (an amount on the lines, no units)
exactly once, with the reason code chosen or the connector's, and OR11's echo of it is recognised as ours;
the marketplace's own amount-only refund (no quantity) goes through the same service once, with its credit
note, and is never sent back nor refunded through a payment service."""

import json
from decimal import Decimal

import httpx
import pytest
import respx

from channels.models import ChannelConnection, MarketplaceAdjustment, MarketplaceSend
from channels.outbound import on_our_change
from common.models import DomainEvent
from invoicing.models import DocumentKind, Invoice
from orders.models import GoodwillRefund, Order, PaymentTransaction
from orders.services.goodwill import order_goodwill_refund
from tests.channels.test_mirakl import MIRAKL, floor, poll  # noqa: F401
from tests.channels.test_mirakl_adjustments import REFUND, invoiced, shipping_order  # noqa: F401

pytestmark = pytest.mark.django_db

OR28_ANSWER = {"refunds": [{"refund_id": "RF-OURS-1"}, {"refund_id": "RF-OURS-2"}]}


@pytest.fixture(autouse=True)
def _no_stock_push(floor):  # noqa: F811
    ChannelConnection.objects.filter(channel=floor.fnac).update(push_stock=False)


def test_our_goodwill_refund_is_sent_as_or28_once_and_its_echo_is_ours(
    invoiced,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    with respx.mock(assert_all_called=False) as router:
        poll(invoiced, router, [shipping_order()], capture)
        order = Order.objects.get(channel=invoiced.fnac)
        or28 = router.put(f"{MIRAKL}/orders/refund").mock(return_value=httpx.Response(200, json=OR28_ANSWER))
        # when: staff give 5.00 back with the marketplace's reason "RF1"
        with capture(execute=True):
            refund, _ = order_goodwill_refund(
                order=order,
                amount=Decimal("5.00"),
                reason="late_delivery",
                note="retard",
                key="k",
                reason_code="RF1",
            )
        # then: OR28 once, the amount spread over the lines by value (29.70 and 12.50), no units
        assert or28.call_count == 1
        body = json.loads(or28.calls[0].request.content)
        assert [
            (r["order_line_id"], r["quantity"], r["amount"], r["reason_code"]) for r in body["refunds"]
        ] == [
            ("FD-55-A-1", 0, 3.52, "RF1"),
            ("FD-55-A-2", 0, 1.48, "RF1"),
        ]
        send = MarketplaceSend.objects.get()
        assert (send.kind, send.key, send.state, send.remote_ids) == (
            "refund",
            f"goodwill:{refund.pk}",
            "sent",
            ["RF-OURS-1", "RF-OURS-2"],
        )
        # the event handled twice asks nothing more
        with capture(execute=True):
            on_our_change(DomainEvent.objects.get(order_id=order.pk, code="order.goodwill_refunded"))
        assert or28.call_count == 1
        # when: OR11 lists those refunds (Mirakl's echo of ours), twice
        echo = [
            {**REFUND, "id": "RF-OURS-1", "amount": 3.52, "quantity": 0, "reason_code": "RF1"},
        ]
        for updated in ("2026-12-05T12:00:00Z", "2026-12-05T13:00:00Z"):
            poll(invoiced, router, [shipping_order(refunds=echo, updated=updated)], capture)
    # then: recorded as ours, nothing applied a second time
    assert MarketplaceAdjustment.objects.get().state == "ours"
    assert GoodwillRefund.objects.filter(order=order).count() == 1
    (note,) = Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE)
    assert note.total_incl_vat == Decimal("5.00")
    # the marketplace pays the buyer back: no payment job
    assert not PaymentTransaction.objects.filter(order=order, kind="refund").exists()


def test_an_amount_only_refund_made_on_mirakl_goes_through_the_goodwill_service_once(
    invoiced,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    gesture = {**REFUND, "id": "R-GW-1", "amount": 4.0, "quantity": 0, "reason_code": "GESTE"}
    with respx.mock(assert_all_called=False) as router:
        poll(invoiced, router, [shipping_order()], capture)
        order = Order.objects.get(channel=invoiced.fnac)
        or28 = router.put(f"{MIRAKL}/orders/refund").mock(return_value=httpx.Response(200, json=OR28_ANSWER))
        for updated in ("2026-12-05T10:05:00Z", "2026-12-05T11:00:00Z"):
            poll(invoiced, router, [shipping_order(refunds=[gesture], updated=updated)], capture)

    (refund,) = GoodwillRefund.objects.filter(order=order)
    assert (refund.amount, refund.reason, refund.source, refund.reason_code) == (
        Decimal("4.00"),
        "marketplace",
        "mirakl",
        "GESTE",
    )
    assert MarketplaceAdjustment.objects.get(remote_id="R-GW-1").state == "applied"
    # no units taken for it (it used to become one mug's refund: 4.00 / 9.90 rounded)
    assert not DomainEvent.objects.filter(order_id=order.pk, code="order.channel_refunded").exists()
    (note,) = Invoice.objects.filter(order=order, kind=DocumentKind.CREDIT_NOTE)
    assert {line.kind for line in note.lines.all()} == {"goodwill"}
    assert note.total_incl_vat == Decimal("4.00")
    # never sent back, never refunded through a payment service
    assert or28.call_count == 0 and not MarketplaceSend.objects.exists()
    assert not PaymentTransaction.objects.filter(order=order, kind="refund").exists()
