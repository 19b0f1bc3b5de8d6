"""The offline sandboxes of Amazon and Mirakl: a connector in sandbox mode polls realistic orders into the
intake, accepts them, confirms shipments and pushes quantities with no HTTP leaving the process (respx with
no route: any real request would fail the test)."""

from datetime import UTC, datetime, time, timedelta

import pytest
import respx
import time_machine

from channels import amazon
from channels.models import ChannelConnection, ChannelFulfillment, WebhookDelivery
from channels.services import amazon_poll, fulfilment_send, mirakl_poll, stock_push
from fulfillment import services as fulfillment
from fulfillment.models import Preparation
from inventory.models import StockLevel
from orders.models import Channel, Order, OrderStatus
from shipping import shipments
from shipping.models import Carrier, CarrierService, ShippingRule
from tests.fulfillment.conftest import Floor
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 12, 4, 12, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(amazon, "_sleep", lambda seconds: None)
    amazon.reset_buckets()
    yield
    amazon.reset_buckets()


@pytest.fixture
def floor(db):
    floor = Floor()
    floor.carrier = Carrier.objects.create(code="colissimo", name="Colissimo", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=floor.carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    ShippingRule.objects.create(position=1, name="Home", delivery_mode="home", service=floor.service)
    StockLevel.objects.filter(location=floor.lyon).update(on_hand=1000)
    return floor


def sandbox(floor, kind, code):
    channel = ChannelFactory(code=code, name=code, kind=kind, locations=[floor.lyon])
    ChannelConnection.objects.create(
        channel=channel,
        sandbox=True,
        poll_orders=True,
        push_stock=True,
        marketplace_id="A13V1IB3VIYZZH",
        seller_id="SANDBOX",
        delivery_modes={"Standard": "home"},
    )
    return channel


def ship_one(floor, order, capture):
    wave = fulfillment.wave_release(location=floor.lyon, max_orders=1)
    assert list(wave.preparations.values_list("order_id", flat=True)) == [order.pk]
    while (step := fulfillment.current_step(wave=wave)) is not None:
        fulfillment.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
        fulfillment.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    prep = Preparation.objects.get(order=order)
    with capture(execute=True):
        for line in prep.lines.all():
            fulfillment.pack_scan(preparation=prep, code=line.ean, quantity=line.quantity, actor=floor.picker)
        fulfillment.parcel_close(preparation=prep, box=None, weight_g=500, actor=floor.picker)
    with capture(execute=True):
        shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)


def test_mirakl_sandbox_polls_accepts_ships_and_pushes_offline(floor, django_capture_on_commit_callbacks):
    fnac = sandbox(floor, Channel.Kind.MIRAKL, "fnac")
    with respx.mock(assert_all_called=False), time_machine.travel(NOON, tick=False):
        # when: the first poll (the last day: one order an hour, the newest still waiting for acceptance)
        with django_capture_on_commit_callbacks(execute=True):
            assert mirakl_poll(channel_id=fnac.pk) == 25
        orders = Order.objects.filter(channel=fnac)
        assert orders.count() == 25
        assert set(WebhookDelivery.objects.filter(channel=fnac).values_list("status", flat=True)) == {
            "processed"
        }
        waiting = WebhookDelivery.objects.get(channel=fnac, delivery_id__endswith="WAITING_ACCEPTANCE")
        assert waiting.error.startswith("Accepted ")  # OR21 answered by the sandbox
        assert {o.status for o in orders} == {OrderStatus.ALLOCATED}
        # the next poll 6 minutes later: the waiting order is now SHIPPING, nothing is taken twice
        ChannelConnection.objects.filter(channel=fnac).update(last_order_sync_at=None)
    with respx.mock(assert_all_called=False), time_machine.travel(NOON + timedelta(minutes=6), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert mirakl_poll(channel_id=fnac.pk) == 1
        assert Order.objects.filter(channel=fnac).count() == 25
        # a confirmation: the oldest order picked, packed, handed over: OR23 + OR24 taken by the sandbox
        order = Order.objects.filter(channel=fnac).order_by("pk").first()
        ship_one(floor, order, django_capture_on_commit_callbacks)
        fulfilment_send(order_id=order.pk)
        assert list(ChannelFulfillment.objects.filter(channel=fnac).values_list("state", flat=True)) == [
            "done"
        ]
        # OF01: quantities accepted
        ChannelConnection.objects.filter(channel=fnac).update(last_stock_push_at=None, job_lease_until=None)
        assert stock_push(channel_id=fnac.pk, full=True)["pushed"] == 3
    assert ChannelConnection.objects.get(channel=fnac).last_error == ""


def test_amazon_sandbox_polls_confirms_and_pushes_offline(floor, django_capture_on_commit_callbacks):
    shop = sandbox(floor, Channel.Kind.AMAZON, "amazon-fr")
    with respx.mock(assert_all_called=False), time_machine.travel(NOON, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert amazon_poll(channel_id=shop.pk) == 25
        # the newest is Pending (not paid yet): not taken, nothing reserved for it
        assert Order.objects.filter(channel=shop).count() == 24
        pending = WebhookDelivery.objects.get(channel=shop, delivery_id__endswith=":Pending")
        assert (pending.status, pending.error_code) == ("ignored", "not_payable_yet")
    with respx.mock(assert_all_called=False), time_machine.travel(NOON + timedelta(minutes=6), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert amazon_poll(channel_id=shop.pk) == 1
        assert Order.objects.filter(channel=shop).count() == 25
        order = Order.objects.filter(channel=shop).order_by("pk").first()
        assert order.lines.count() >= 1 and order.customer.email.endswith("@marketplace.amazon.invalid")
        ship_one(floor, order, django_capture_on_commit_callbacks)
        fulfilment_send(order_id=order.pk)
        assert list(ChannelFulfillment.objects.filter(channel=shop).values_list("state", flat=True)) == [
            "done"
        ]
        ChannelConnection.objects.filter(channel=shop).update(last_stock_push_at=None, job_lease_until=None)
        assert stock_push(channel_id=shop.pk, full=True)["pushed"] == 3


def test_the_amazon_sandbox_keeps_no_quota(floor, monkeypatch):
    """The sandbox answers in process: a push of more listings than the listings bucket holds does not
    wait (with tasks run eagerly, as in `make run`, a wait would hold the request that changed the stock)."""
    shop = sandbox(floor, Channel.Kind.AMAZON, "amazon-fr")
    waits = []
    monkeypatch.setattr(amazon, "_sleep", waits.append)
    connection = ChannelConnection.objects.get(channel=shop)
    api = amazon.Api(connection)
    try:
        with respx.mock(assert_all_called=False):
            for _ in range(3 * amazon.RATES["patchListingsItem"][1]):
                api.call("patchListingsItem", "GET", "/orders/v0/orders", token="Atza|sandbox")
    finally:
        api.close()
    assert waits == []
