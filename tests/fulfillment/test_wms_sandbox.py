"""The offline sandbox of the JSON WMS: a partner in sandbox mode takes our fulfilment requests and, later,
confirms their shipment, which moves the order like our own pack station, with no HTTP leaving the process
(respx with no route: any real request would fail the test)."""

from datetime import timedelta

import pytest
import respx
import time_machine
from django.utils import timezone

from fulfillment.models import FulfilmentRequest, WarehousePartner
from fulfillment.services import outsourced
from fulfillment.wms_sandbox import SHIP_AFTER
from inventory.models import StockLevel
from orders.models import Order
from shipping.models import Shipment
from tests.api.conftest import Api, order_body
from tests.api.factories import ChannelFactory, ProductFactory, api_key, channel_serves, stock
from tests.inventory.factories import LocationFactory
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory, with_grids

pytestmark = pytest.mark.django_db


def test_sandbox_wms_accepts_the_request_then_ships_it(django_capture_on_commit_callbacks):
    location = LocationFactory(code="3pl-sbx", name="Logisticien (sandbox)", kind="outsourced")
    partner = WarehousePartner.objects.create(location=location, name="Logisticien", sandbox=True)
    channel = ChannelFactory(code="web")
    channel_serves(channel, location)
    colissimo = CarrierFactory(code="colissimo", name="Colissimo")
    with_grids(CarrierServiceFactory(carrier=colissimo, code="domicile", name="Colissimo domicile"))
    tee = ProductFactory(sku="TEE", ean="3000000000017")
    stock(tee, location, 10)
    api = Api(api_key(channel, "orders"))
    with respx.mock(assert_all_called=False):
        with django_capture_on_commit_callbacks(execute=True):
            answer = api.post("/orders/", order_body("W-1", lines=[{"sku": "TEE", "quantity": 3}]))
        assert answer.status_code == 201, answer.json()
        request = FulfilmentRequest.objects.get(preparation__order_number=answer.json()["number"])
        assert (request.status, request.reference) == ("sent", f"SBX-{request.pk}")
        # right away: the 3PL has not shipped yet
        assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 0
        with time_machine.travel(timezone.now() + SHIP_AFTER + timedelta(seconds=1)):
            with django_capture_on_commit_callbacks(execute=True):
                assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 1
                # read again: the cursor moved on, nothing applied twice
                assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 0
    order = Order.objects.get(number=answer.json()["number"])
    assert order.status == "shipped"
    shipment = Shipment.objects.get(order=order)
    assert (shipment.status, shipment.tracking_number) == ("handed_over", f"6A{request.pk:011d}")
    assert StockLevel.objects.get(product=tee, location=location).on_hand == 7
    assert FulfilmentRequest.objects.get(pk=request.pk).status == "shipped"
    partner.refresh_from_db()
    assert partner.last_error == "" and partner.last_sync_at is not None
