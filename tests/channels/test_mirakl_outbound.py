"""Our own cancellations and refunds told to Mirakl (OR30 units cancelled, OR29 whole order, OR28 refund),
from the event log, exactly once, with the connector's reason codes (RE02); Mirakl's answer ids make OR11's
echo of the same cancellation recognised as ours and not applied twice; a 400 is kept with Mirakl's message
on the connector's health and replayed; a 429 is retried."""

import json
from decimal import Decimal

import httpx
import pytest
import respx

from channels.health import connector_health
from channels.models import ChannelConnection, MarketplaceAdjustment, MarketplaceSend
from channels.outbound import marketplace_send, marketplace_send_replay, on_our_change
from common.models import DomainEvent
from orders.models import Order, OrderLine, OrderStatus
from orders.services.edits import order_lines_cancel
from orders.services.lifecycle import order_cancel
from tests.channels.test_mirakl import MIRAKL, floor, poll  # noqa: F401
from tests.channels.test_mirakl_adjustments import CANCELATION, shipping_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_stock_push(floor):  # noqa: F811
    ChannelConnection.objects.filter(channel=floor.fnac).update(push_stock=False)


REASONS = {  # RE02 GET /api/reasons/ORDER_CANCEL (documented fields)
    "reasons": [
        {"code": "34", "label": "Article indisponible", "type": "ORDER_CANCEL", "shop_right": True},
        {"code": "35", "label": "Opérateur seulement", "type": "ORDER_CANCEL", "shop_right": False},
    ]
}
OR30_ANSWER = {  # OR30 200: the cancellations created, with their ids
    "order_tax_mode": "TAX_INCLUDED",
    "cancelations": [
        {
            "cancelation_id": "C-OURS-1",
            "order_line_id": "FD-55-A-1",
            "quantity": 1,
            "amount": 9.9,
            "shipping_amount": 0,
            "reason_code": "34",
            "currency_iso_code": "EUR",
        }
    ],
}
MIRAKL_400 = {"status": 400, "message": "Order line FD-55-A-1 cannot be canceled in state SHIPPED"}


def take(floor, router, capture):  # noqa: F811
    poll(floor, router, [shipping_order()], capture)
    return Order.objects.get(channel=floor.fnac)


def cancel_one_mug(order, capture):
    mug = OrderLine.objects.get(order=order, sku="MUG")
    with capture(execute=True):
        return order_lines_cancel(order=order, quantities={mug.pk: 1}, reason="customer asked")


def test_full_loop_we_cancel_one_unit_or30_once_and_the_echo_is_not_applied_again(
    floor,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with respx.mock(assert_all_called=False) as router:
        order = take(floor, router, django_capture_on_commit_callbacks)
        reasons = router.get(f"{MIRAKL}/reasons/ORDER_CANCEL").mock(
            return_value=httpx.Response(200, json=REASONS)
        )
        router.get(f"{MIRAKL}/reasons/REFUND").mock(return_value=httpx.Response(200, json={"reasons": []}))
        or30 = router.put(f"{MIRAKL}/orders/cancel").mock(return_value=httpx.Response(200, json=OR30_ANSWER))
        # when: staff cancel one mug of the Mirakl order
        change = cancel_one_mug(order, django_capture_on_commit_callbacks)
        # then: OR30 sent once, in the documented shape, with the marketplace's first reason the shop may use
        assert or30.call_count == 1
        body = json.loads(or30.calls[0].request.content)
        assert body == {
            "cancelations": [
                {
                    "order_line_id": "FD-55-A-1",
                    "quantity": 1,
                    "amount": 9.9,
                    "shipping_amount": 0.0,
                    "currency_iso_code": "EUR",
                    "reason_code": "34",
                }
            ]
        }
        assert or30.calls[0].request.url.params["shop_id"] == "2042"
        assert reasons.call_count == 1
        send = MarketplaceSend.objects.get()
        assert (send.kind, send.key, send.state, send.remote_ids) == (
            "cancellation",
            f"change:{change.pk}",
            "sent",
            ["C-OURS-1"],
        )
        cached = ChannelConnection.objects.get(channel=floor.fnac).marketplace_reasons
        assert cached["ORDER_CANCEL"] == [{"code": "34", "label": "Article indisponible"}]
        # the event handled a second time asks nothing more
        event = DomainEvent.objects.get(order_id=order.pk, code="order.lines_cancelled")
        with django_capture_on_commit_callbacks(execute=True):
            on_our_change(event)
        assert or30.call_count == 1 and MarketplaceSend.objects.count() == 1
        # when: OR11 lists that cancellation on the line (Mirakl's echo of ours)
        echo = {**CANCELATION, "id": "C-OURS-1", "reason_code": "34"}
        poll(
            floor,
            router,
            [shipping_order(cancelations=[echo], updated="2026-12-04T10:00:00Z")],
            django_capture_on_commit_callbacks,
        )
    # then: not applied a second time
    mug = OrderLine.objects.get(order=order, sku="MUG")
    assert (mug.quantity, mug.quantity_cancelled) == (2, 1)
    assert floor.level(floor.mug).reserved == 2
    row = MarketplaceAdjustment.objects.get()
    assert (row.remote_id, row.state) == ("C-OURS-1", "ours")
    assert or30.call_count == 1
    assert DomainEvent.objects.filter(order_id=order.pk, code="order.channel_told").count() == 1


def test_a_cancellation_made_on_mirakl_is_not_sent_back(floor, django_capture_on_commit_callbacks):  # noqa: F811
    with respx.mock(assert_all_called=False) as router:
        take(floor, router, django_capture_on_commit_callbacks)
        or30 = router.put(f"{MIRAKL}/orders/cancel").mock(return_value=httpx.Response(200, json=OR30_ANSWER))
        poll(
            floor,
            router,
            [shipping_order(cancelations=[CANCELATION], updated="2026-12-04T09:30:00Z")],
            django_capture_on_commit_callbacks,
        )
    assert MarketplaceAdjustment.objects.get().state == "applied"
    assert or30.call_count == 0
    assert not MarketplaceSend.objects.exists()


def test_a_400_is_kept_with_mirakls_message_on_the_health_page_and_replayed(
    floor,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    ChannelConnection.objects.filter(channel=floor.fnac).update(default_reasons={"cancellation": "17"})
    with respx.mock(assert_all_called=False) as router:
        order = take(floor, router, django_capture_on_commit_callbacks)
        or30 = router.put(f"{MIRAKL}/orders/cancel").mock(return_value=httpx.Response(400, json=MIRAKL_400))
        cancel_one_mug(order, django_capture_on_commit_callbacks)
        send = MarketplaceSend.objects.get()
        assert send.state == "failed"
        assert "cannot be canceled in state SHIPPED" in send.error
        assert json.loads(or30.calls[0].request.content)["cancelations"][0]["reason_code"] == "17"
        (health,) = [h for h in connector_health() if h.name == "Fnac Darty"]
        assert health.errors == 1
        assert "cannot be canceled" in health.last_error
        # when: the manager replays it once Mirakl accepts it
        or30.mock(return_value=httpx.Response(200, json=OR30_ANSWER))
        with django_capture_on_commit_callbacks(execute=True):
            marketplace_send_replay(send=send)
    send.refresh_from_db()
    assert (send.state, send.remote_ids, send.error) == ("sent", ["C-OURS-1"], "")
    assert or30.call_count == 2
    (health,) = [h for h in connector_health() if h.name == "Fnac Darty"]
    assert health.errors == 0


def test_a_429_is_retried_and_sent_once(floor, django_capture_on_commit_callbacks):  # noqa: F811
    ChannelConnection.objects.filter(channel=floor.fnac).update(default_reasons={"cancellation": "34"})
    with respx.mock(assert_all_called=False) as router:
        order = take(floor, router, django_capture_on_commit_callbacks)
        or30 = router.put(f"{MIRAKL}/orders/cancel").mock(
            side_effect=[
                httpx.Response(429, json={"status": 429, "message": "Too many requests"}),
                httpx.Response(200, json=OR30_ANSWER),
            ]
        )
        # when: the job meets a 429 (Celery's retry with backoff is asked for; the row stays due)
        cancel_one_mug(order, django_capture_on_commit_callbacks)
        send = MarketplaceSend.objects.get()
        assert (send.state, send.job_attempts, send.remote_ids) == ("pending", 1, [])
        assert send.job_lease_until is None  # released for the retry (or the sweep)
        # then: the retry sends it, once
        assert marketplace_send(send_id=send.pk) == "sent"
        assert marketplace_send(send_id=send.pk) == "skipped"  # a redelivered message does nothing
    assert or30.call_count == 2
    send.refresh_from_db()
    assert send.remote_ids == ["C-OURS-1"]


def test_a_whole_order_cancelled_here_is_or29(floor, django_capture_on_commit_callbacks):  # noqa: F811
    with respx.mock(assert_all_called=False) as router:
        order = take(floor, router, django_capture_on_commit_callbacks)
        or29 = router.put(f"{MIRAKL}/orders/FD-55-A/cancel").mock(return_value=httpx.Response(204))
        or30 = router.put(f"{MIRAKL}/orders/cancel").mock(return_value=httpx.Response(200, json=OR30_ANSWER))
        with django_capture_on_commit_callbacks(execute=True):
            order_cancel(order=order, reason="fraud")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert (or29.call_count, or30.call_count) == (1, 0)
    assert MarketplaceSend.objects.get().state == "sent"


def test_cancelled_on_mirakl_whole_is_not_sent_back(floor, django_capture_on_commit_callbacks):  # noqa: F811
    with respx.mock(assert_all_called=False) as router:
        order = take(floor, router, django_capture_on_commit_callbacks)
        or29 = router.put(f"{MIRAKL}/orders/FD-55-A/cancel").mock(return_value=httpx.Response(204))
        cancelled = {**shipping_order(updated="2026-12-04T11:00:00Z"), "order_state": "CANCELED"}
        poll(floor, router, [cancelled], django_capture_on_commit_callbacks)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert or29.call_count == 0
    assert not MarketplaceSend.objects.exists()
    assert Decimal(order.total_incl_vat) > 0
