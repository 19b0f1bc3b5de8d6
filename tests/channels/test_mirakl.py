"""Mirakl seller API (one connector per marketplace) against respx fixtures in the documented shapes: OR11
pages, OR21 line by line by our stock (refuse rather than oversell), cancellations, OR23 + OR24 at hand-over,
OF01 quantities at the documented frequency; and a full loop through our own floor."""

import datetime as dt
import json
from datetime import time, timedelta

import httpx
import pytest
import respx
import time_machine
from django.utils import timezone

from channels.models import ChannelConnection, WebhookDelivery
from channels.services import mirakl_poll, stock_push
from fulfillment import services as fulfillment
from fulfillment.models import Preparation
from orders.models import Channel, Order, OrderStatus
from shipping import shipments
from shipping.models import Carrier, CarrierService, ShippingRule
from tests.fulfillment.conftest import Floor
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db

MIRAKL = "https://fnac-darty.mirakl.net/api"


@pytest.fixture
def floor(db):
    floor = Floor()
    carrier = Carrier.objects.create(code="colissimo", name="Colissimo", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    floor.carrier = carrier
    ShippingRule.objects.create(position=1, name="Home", delivery_mode="home", service=floor.service)
    floor.fnac = ChannelFactory(
        code="fnac", name="Fnac Darty", kind=Channel.Kind.MIRAKL, locations=[floor.lyon], safety_buffer=1
    )
    ChannelConnection.objects.create(
        channel=floor.fnac,
        base_url="https://fnac-darty.mirakl.net",
        api_key="5f1e-shop-key",
        seller_id="2042",
        poll_orders=True,
        push_stock=True,
        delivery_modes={"Standard": "home"},
    )
    return floor


def mirakl_order(
    order_id="FD-100234-A", state="WAITING_ACCEPTANCE", lines=None, updated="2026-12-04T09:00:00Z"
):
    return {
        "order_id": order_id,
        "commercial_id": order_id.rsplit("-", 1)[0],
        "order_state": state,
        "created_date": "2026-12-04T08:58:00Z",
        "last_updated_date": updated,
        "acceptance_decision_date": (timezone.now() + timedelta(days=1)).isoformat(),
        "shipping_type_code": "STD",
        "shipping_type_label": "Standard",
        "customer_notification_email": "c-93hd7@customers.mirakl.net",
        "customer": {
            "customer_id": "C-77",
            "firstname": "Louis",
            "lastname": "Bernard",
            "shipping_address": {
                "firstname": "Louis",
                "lastname": "Bernard",
                "street_1": "5 place Bellecour",
                "zip_code": "69002",
                "city": "Lyon",
                "country_iso_code": "FRA",
                "phone": "0600000000",
            },
        },
        "order_lines": lines
        if lines is not None
        else [
            {
                "order_line_id": f"{order_id}-1",
                "offer_sku": "MUG",
                "quantity": 3,
                "price_unit": 9.9,
                "order_line_state": state,
            },
            {
                "order_line_id": f"{order_id}-2",
                "offer_sku": "CAP",
                "quantity": 30,
                "price_unit": 15.0,
                "order_line_state": state,
            },
        ],
    }


def poll(floor, router, orders, capture):
    router.get(f"{MIRAKL}/orders").mock(
        return_value=httpx.Response(200, json={"orders": orders, "total_count": len(orders)})
    )
    ChannelConnection.objects.filter(channel=floor.fnac).update(last_order_sync_at=None)
    with capture(execute=True):
        return mirakl_poll(channel_id=floor.fnac.pk)


# The first poll reads from a day before now: the fixtures' orders were updated at 09:00 that day.
@time_machine.travel(dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC))
def test_or11_pages_and_the_documented_frequency(floor):
    with respx.mock(assert_all_called=False) as router:
        route = router.get(f"{MIRAKL}/orders").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "orders": [mirakl_order(f"A-{i}", state="CLOSED") for i in range(100)],
                        "total_count": 101,
                    },
                ),
                httpx.Response(
                    200, json={"orders": [mirakl_order("B-1", state="CLOSED")], "total_count": 101}
                ),
            ]
        )
        assert mirakl_poll(channel_id=floor.fnac.pk) == 101
        first, second = (c.request for c in route.calls)
        assert first.headers["Authorization"] == "5f1e-shop-key"
        assert (first.url.params["offset"], first.url.params["max"], first.url.params["shop_id"]) == (
            "0",
            "100",
            "2042",
        )
        assert "WAITING_ACCEPTANCE" in first.url.params["order_state_codes"]
        assert second.url.params["offset"] == "100"
        # called again right away: OR11 is not called (at most every 5 minutes)
        assert mirakl_poll(channel_id=floor.fnac.pk) == 0
        assert route.call_count == 2
    assert ChannelConnection.objects.get(channel=floor.fnac).order_cursor == "2026-12-04T09:00:00Z"


def test_lines_accepted_by_our_stock_and_refused_beyond_it(floor, django_capture_on_commit_callbacks):
    with respx.mock(assert_all_called=False) as router:
        accept = router.put(f"{MIRAKL}/orders/FD-100234-A/accept").mock(return_value=httpx.Response(204))
        poll(floor, router, [mirakl_order()], django_capture_on_commit_callbacks)
        # 20 mugs (buffer 1: 19 offered) serve 3; 30 caps are more than 19: refused, not oversold
        assert json.loads(accept.calls[0].request.content) == {
            "order_lines": [
                {"id": "FD-100234-A-1", "accepted": True},
                {"id": "FD-100234-A-2", "accepted": False},
            ]
        }
        assert accept.calls[0].request.url.params["shop_id"] == "2042"
    order = Order.objects.get(channel=floor.fnac)
    assert [(x.sku, x.quantity) for x in order.lines.all()] == [("MUG", 3)]
    assert (order.customer.email, order.ship_country, order.ship_city) == (
        "c-93hd7@customers.mirakl.net",
        "FR",
        "Lyon",
    )
    assert floor.level(floor.mug).reserved == 3 and floor.level(floor.cap).reserved == 0
    delivery = WebhookDelivery.objects.get()
    assert "refused: CAP × 30 (19 available)" in delivery.error

    # the debit succeeded: SHIPPING changes nothing; then the customer cancels on the marketplace
    with respx.mock(assert_all_called=False) as router:
        poll(
            floor,
            router,
            [mirakl_order(state="SHIPPING", updated="2026-12-04T10:00:00Z")],
            django_capture_on_commit_callbacks,
        )
        assert Order.objects.get(pk=order.pk).status == OrderStatus.ALLOCATED
        poll(
            floor,
            router,
            [mirakl_order(state="CANCELED", updated="2026-12-04T11:00:00Z")],
            django_capture_on_commit_callbacks,
        )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert floor.level(floor.mug).reserved == 0


def test_nothing_servable_refuses_every_line_and_takes_nothing(floor, django_capture_on_commit_callbacks):
    lines = [
        {
            "order_line_id": "L1",
            "offer_sku": "CAP",
            "quantity": 50,
            "price_unit": 15.0,
            "order_line_state": "WAITING_ACCEPTANCE",
        }
    ]
    with respx.mock(assert_all_called=False) as router:
        accept = router.put(f"{MIRAKL}/orders/FD-9-A/accept").mock(return_value=httpx.Response(204))
        poll(floor, router, [mirakl_order("FD-9-A", lines=lines)], django_capture_on_commit_callbacks)
        assert json.loads(accept.calls[0].request.content) == {
            "order_lines": [{"id": "L1", "accepted": False}]
        }
    assert not Order.objects.exists()
    assert WebhookDelivery.objects.get().error_code == "refused"


def test_acceptance_that_failed_is_sent_again_on_replay(floor, django_capture_on_commit_callbacks):
    from channels.services import delivery_replay

    with respx.mock(assert_all_called=False) as router:
        router.put(f"{MIRAKL}/orders/FD-100234-A/accept").mock(return_value=httpx.Response(500))
        poll(floor, router, [mirakl_order()], django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert Order.objects.get().lines.count() == 1  # reserved before answering: never oversold
    with respx.mock(assert_all_called=False) as router:
        accept = router.put(f"{MIRAKL}/orders/FD-100234-A/accept").mock(return_value=httpx.Response(204))
        with django_capture_on_commit_callbacks(execute=True):
            delivery_replay(delivery=delivery)
        assert json.loads(accept.calls[0].request.content)["order_lines"][0] == {
            "id": "FD-100234-A-1",
            "accepted": True,
        }
    assert WebhookDelivery.objects.get().status == "processed"
    assert Order.objects.count() == 1


def test_of01_partial_update_at_most_every_5_minutes(floor):
    with respx.mock(assert_all_called=False) as router:
        imports = router.post(f"{MIRAKL}/offers/imports").mock(
            return_value=httpx.Response(201, json={"import_id": 88})
        )
        assert stock_push(channel_id=floor.fnac.pk, full=True)["pushed"] == 3
        request = imports.calls[0].request
        body = request.content.decode()
        assert 'name="import_mode"' in body and "PARTIAL_UPDATE" in body
        assert "sku;quantity;update-delete" in body and "MUG;19;update" in body  # 20 minus the buffer
        ChannelConnection.objects.filter(channel=floor.fnac).update(job_due_at=timezone.now())
        # too soon: not an error (no retry storm, no traceback), the push stays due until the interval ends
        deferred = stock_push(channel_id=floor.fnac.pk, full=True)
        assert deferred["pushed"] == 0 and "deferred_until" in deferred
        assert imports.call_count == 1
        connection = ChannelConnection.objects.get(channel=floor.fnac)
        assert connection.job_due_at == connection.last_stock_push_at + timedelta(minutes=5)
        ChannelConnection.objects.filter(channel=floor.fnac).update(
            last_stock_push_at=timezone.now() - timedelta(minutes=6),
            job_due_at=timezone.now(),
            job_lease_until=None,
        )
        stock_push(channel_id=floor.fnac.pk, full=True)
        assert imports.call_count == 2


def test_full_loop_accepted_picked_shipped_tracking_and_ship_sent(floor, django_capture_on_commit_callbacks):
    lines = [
        {
            "order_line_id": "L1",
            "offer_sku": "SHIRT",
            "quantity": 2,
            "price_unit": 12.5,
            "order_line_state": "WAITING_ACCEPTANCE",
        }
    ]
    with respx.mock(assert_all_called=False) as router:
        router.put(f"{MIRAKL}/orders/FD-7-A/accept").mock(return_value=httpx.Response(204))
        tracking = router.put(f"{MIRAKL}/orders/FD-7-A/tracking").mock(return_value=httpx.Response(204))
        ship = router.put(f"{MIRAKL}/orders/FD-7-A/ship").mock(return_value=httpx.Response(204))
        imports = router.post(f"{MIRAKL}/offers/imports").mock(
            return_value=httpx.Response(201, json={"import_id": 1})
        )

        def pushed_shirts():
            ChannelConnection.objects.filter(channel=floor.fnac).update(
                last_stock_push_at=None, job_due_at=timezone.now(), job_lease_until=None
            )
            stock_push(channel_id=floor.fnac.pk, full=True)
            body = imports.calls[-1].request.content.decode()
            return int(next(x for x in body.splitlines() if x.startswith("SHIRT;")).split(";")[1])

        assert pushed_shirts() == 19
        poll(floor, router, [mirakl_order("FD-7-A", lines=lines)], django_capture_on_commit_callbacks)
        order = Order.objects.get(channel=floor.fnac)
        assert order.status == OrderStatus.ALLOCATED
        assert pushed_shirts() == 17
        wave = fulfillment.wave_release(location=floor.lyon)
        while (step := fulfillment.current_step(wave=wave)) is not None:
            fulfillment.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
            fulfillment.pick_scan(
                wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
            )
        assert pushed_shirts() == 17
        prep = Preparation.objects.get(order=order)
        with django_capture_on_commit_callbacks(execute=True):
            fulfillment.pack_scan(preparation=prep, code=floor.shirt.ean, quantity=2, actor=floor.picker)
            shipment = fulfillment.parcel_close(preparation=prep, box=None, weight_g=500, actor=floor.picker)
        with django_capture_on_commit_callbacks(execute=True):
            shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
        order.refresh_from_db()
        shipment.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED
        assert json.loads(tracking.calls[0].request.content) == {
            "tracking_number": shipment.tracking_number,
            "carrier_code": "COLISSIMO",
            "carrier_name": "Colissimo",
            **({"carrier_url": shipment.tracking_url} if shipment.tracking_url else {}),
        }
        assert ship.call_count == 1
        assert pushed_shirts() == 17


def test_past_the_acceptance_delay_nothing_is_reserved(floor, django_capture_on_commit_callbacks):
    late = mirakl_order("FD-8-A")
    late["acceptance_decision_date"] = (timezone.now() - timedelta(minutes=1)).isoformat()
    with respx.mock(assert_all_called=False) as router:
        accept = router.put(f"{MIRAKL}/orders/FD-8-A/accept").mock(return_value=httpx.Response(204))
        poll(floor, router, [late], django_capture_on_commit_callbacks)
        assert accept.call_count == 0
    assert not Order.objects.exists()
    assert WebhookDelivery.objects.get().error_code == "acceptance_expired"
