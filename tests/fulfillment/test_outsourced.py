"""Outsourced locations (3PL): a simulated WMS (a real HTTP server on 127.0.0.1) receives the preparations,
confirms partial shipments and sends a stock snapshot with differences; the CSV drop does the same through
files. Real commits (``transaction=True``): the event log's consumers and the jobs run as in production."""

import csv
import os

import pytest
from django.core.management import call_command

from common.exceptions import DomainError
from common.models import DomainEvent
from fulfillment.models import (
    FulfilmentRequest,
    PartnerShipment,
    Preparation,
    StockSnapshot,
    WarehousePartner,
)
from fulfillment.services import outsourced
from fulfillment.services.waves import waves_release_due
from inventory import services as inventory_services
from inventory.models import Allocation, StockLevel, StockMovement
from orders.models import Order
from shipping.models import Shipment
from tests.api.conftest import Api, order_body
from tests.api.factories import ChannelFactory, ProductFactory, api_key, channel_serves, stock
from tests.inventory.factories import LocationFactory
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory, with_grids

from .wms_server import SimulatedWms

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wms():
    with SimulatedWms(api_key="wms-secret") as server:
        yield server


@pytest.fixture
def setup(wms):
    location = LocationFactory(code="3pl-lyon", name="Logisticien Lyon", kind="outsourced")
    partner = WarehousePartner.objects.create(
        location=location, name="Logisticien Lyon", base_url=wms.url, api_key="wms-secret"
    )
    channel = ChannelFactory(code="web")
    channel_serves(channel, location)
    colissimo = CarrierFactory(code="colissimo", name="Colissimo")
    with_grids(CarrierServiceFactory(carrier=colissimo, code="domicile", name="Colissimo domicile"))
    tee, mug = ProductFactory(sku="TEE", ean="3000000000017"), ProductFactory(sku="MUG", ean="3000000000024")
    stock(tee, location, 10)
    stock(mug, location, 5)
    return {
        "partner": partner,
        "location": location,
        "api": Api(api_key(channel, "orders")),
        "tee": tee,
        "mug": mug,
    }


def levels(location) -> dict:
    return dict(StockLevel.objects.filter(location=location).values_list("product__sku", "on_hand"))


def test_full_loop_sent_partly_shipped_shipped_and_reconciled(setup, wms):
    api, location, partner = setup["api"], setup["location"], setup["partner"]
    # an order taken: its preparation at the 3PL is sent to the WMS after commit
    answer = api.post(
        "/orders/",
        order_body("W-1", lines=[{"sku": "TEE", "quantity": 3}, {"sku": "MUG", "quantity": 1}]),
    )
    assert answer.status_code == 201, answer.json()
    number = answer.json()["number"]
    request = FulfilmentRequest.objects.get(preparation__order_number=number)
    assert (request.status, request.reference) == ("sent", "WMS-0001")
    sent = wms.requests["WMS-0001"]
    assert sent["order_number"] == number
    assert [(x["sku"], x["ean"], x["quantity"]) for x in sent["lines"]] == [
        ("TEE", "3000000000017", 3),
        ("MUG", "3000000000024", 1),
    ]
    assert sent["recipient"]["line1"] == "3 rue X"
    assert sent["recipient"]["email"] == "a@example.fr"
    # our own waves never take the 3PL's work
    assert waves_release_due() == []
    assert Preparation.objects.get(order_number=number).wave_id is None

    # the WMS ships 2 T-shirts first
    wms.ship(
        "WMS-0001",
        shipment_id="S-1",
        parcels=[
            {
                "carrier": "colissimo",
                "tracking_number": "6A0001",
                "weight_g": 600,
                "lines": [{"sku": "TEE", "quantity": 2}],
            }
        ],
    )
    assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 1
    order = Order.objects.get(number=number)
    assert order.status == "partially_shipped"
    first = Shipment.objects.get(order=order)
    assert (first.status, first.tracking_number, first.service.code) == ("handed_over", "6A0001", "domicile")
    assert levels(location) == {"TEE": 8, "MUG": 5}
    assert FulfilmentRequest.objects.get(pk=request.pk).status == "partial"

    # then the rest in two parcels; the same confirmation served again is not applied twice
    wms.ship(
        "WMS-0001",
        shipment_id="S-2",
        parcels=[
            {"carrier": "colissimo", "tracking_number": "6A0002", "lines": [{"sku": "TEE", "quantity": 1}]},
            {"carrier": "colissimo", "tracking_number": "6A0003", "lines": [{"sku": "MUG", "quantity": 1}]},
        ],
    )
    partner.refresh_from_db()
    WarehousePartner.objects.filter(pk=partner.pk).update(shipments_cursor="")  # the WMS sends all again
    assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 1
    order.refresh_from_db()
    assert order.status == "shipped"
    assert sorted(Shipment.objects.filter(order=order).values_list("tracking_number", flat=True)) == [
        "6A0001",
        "6A0002",
        "6A0003",
    ]
    assert levels(location) == {"TEE": 7, "MUG": 4}
    assert FulfilmentRequest.objects.get(pk=request.pk).status == "shipped"
    assert PartnerShipment.objects.filter(status="applied").count() == 2

    # a stock snapshot with differences: one T-shirt missing, two mugs found, an SKU we do not know
    wms.stock = {
        "id": "STOCK-2026-12-04",
        "taken_at": "2026-12-04T18:00:00+01:00",
        "lines": [
            {"sku": "TEE", "quantity": 6},
            {"sku": "MUG", "quantity": 6},
            {"sku": "ZZZ", "quantity": 3},
        ],
    }
    outsourced.partner_sync(partner_id=partner.pk)
    snapshot = StockSnapshot.objects.get()
    assert (snapshot.products, snapshot.differences, snapshot.units_in, snapshot.units_out) == (3, 3, 2, 1)
    lines = {x.sku: (x.theirs, x.ours, x.difference, x.movement_id is not None) for x in snapshot.lines.all()}
    assert lines == {"MUG": (6, 4, 2, True), "TEE": (6, 7, -1, True), "ZZZ": (3, None, 3, False)}
    assert levels(location) == {"TEE": 6, "MUG": 6}
    assert sorted(
        StockMovement.objects.filter(reason_code="partner_count").values_list("product__sku", "delta")
    ) == [("MUG", 2), ("TEE", -1)]
    # the same snapshot read again books nothing more
    outsourced.partner_sync(partner_id=partner.pk)
    assert StockSnapshot.objects.count() == 1
    partner.refresh_from_db()
    assert partner.last_sync_at is not None and partner.last_error == ""
    call_command("stock_audit")


def test_a_confirmation_that_does_not_fit_is_kept_and_replayed(setup, wms):
    api, partner = setup["api"], setup["partner"]
    number = api.post("/orders/", order_body("W-2", lines=[{"sku": "TEE", "quantity": 1}])).json()["number"]
    wms.ship(
        "WMS-0001",
        shipment_id="S-9",
        parcels=[{"carrier": "ups", "tracking_number": "1Z999", "lines": [{"sku": "TEE", "quantity": 1}]}],
    )
    assert outsourced.partner_sync(partner_id=partner.pk) == {"applied": 0, "failed": 1, "snapshot": None}
    received = PartnerShipment.objects.get(external_id="S-9")
    assert received.status == "failed"
    assert "ups" in received.error
    assert received.payload["parcels"][0]["tracking_number"] == "1Z999"
    assert not Shipment.objects.exists()
    assert levels(setup["location"]) == {"TEE": 10, "MUG": 5}
    # the carrier is added: the replay applies it
    with_grids(CarrierServiceFactory(carrier=CarrierFactory(code="ups", name="UPS"), code="standard"))
    outsourced.partner_shipment_replay(received=received)
    assert PartnerShipment.objects.get(pk=received.pk).status == "applied"
    assert Order.objects.get(number=number).status == "shipped"
    assert Shipment.objects.get().tracking_number == "1Z999"
    # too many units are refused
    wms.ship(
        "WMS-0001",
        shipment_id="S-10",
        parcels=[{"carrier": "ups", "tracking_number": "1Z998", "lines": [{"sku": "TEE", "quantity": 1}]}],
    )
    outsourced.partner_sync(partner_id=partner.pk)
    assert "0 left to ship" in PartnerShipment.objects.get(external_id="S-10").error


def test_cancelling_the_order_cancels_at_the_wms_unless_already_shipped(setup, wms):
    api = setup["api"]
    number = api.post("/orders/", order_body("W-3", lines=[{"sku": "MUG", "quantity": 1}])).json()["number"]
    assert api.post(f"/orders/{number}/cancel/", {}).status_code == 200
    request = FulfilmentRequest.objects.get(preparation__order_number=number)
    assert request.status == "cancelled"
    assert wms.cancelled == ["WMS-0001"]


def test_wms_refusals_and_outages(setup, wms):
    api, partner = setup["api"], setup["partner"]
    # a refusal (bad key) is kept with the WMS's answer, and can be sent again once mended
    partner.api_key = "wrong"
    partner.save()
    number = api.post("/orders/", order_body("W-4", lines=[{"sku": "MUG", "quantity": 1}])).json()["number"]
    request = FulfilmentRequest.objects.get(preparation__order_number=number)
    assert request.status == "failed"
    assert "401" in request.error and "bad API key" in request.error
    partner.refresh_from_db()
    assert "401" in partner.last_error
    partner.api_key = "wms-secret"
    partner.save()
    outsourced.fulfilment_request_retry(request=request)
    request.refresh_from_db()
    assert (request.status, request.reference) == ("sent", "WMS-0001")
    # an outage (503) leaves the request due: the jobs sweep sends it again, once
    wms.fail_next = 503
    number = api.post("/orders/", order_body("W-5", lines=[{"sku": "MUG", "quantity": 1}])).json()["number"]
    request = FulfilmentRequest.objects.get(preparation__order_number=number)
    assert request.status == "pending" and request.job_due_at is not None
    FulfilmentRequest.objects.filter(pk=request.pk).update(job_lease_until=None)
    outsourced.fulfilment_request_send(request_id=request.pk)
    request.refresh_from_db()
    assert (request.status, request.reference) == ("sent", "WMS-0002")
    assert len(wms.requests) == 2
    # a sync that fails is recorded on the partner
    wms.fail_next = 500
    with pytest.raises(Exception, match="500"):
        outsourced.partner_sync(partner_id=partner.pk)
    partner.refresh_from_db()
    assert "500" in partner.last_error


def test_a_confirmation_our_stock_cannot_take_is_kept_and_the_next_ones_still_apply(setup, wms):
    """The WMS ships units whose reservation was released meanwhile: the stock refuses the move. The
    confirmation is kept as failed with that reason and its payload (to be replayed), the next confirmation
    of the same sync is applied, and the beat's sync of every partner goes on."""
    api, partner, location = setup["api"], setup["partner"], setup["location"]
    first = api.post("/orders/", order_body("W-6", lines=[{"sku": "TEE", "quantity": 2}])).json()["number"]
    second = api.post("/orders/", order_body("W-7", lines=[{"sku": "MUG", "quantity": 1}])).json()["number"]
    inventory_services.allocations_release(order_id=Order.objects.get(number=first).pk)
    parcel = {"carrier": "colissimo", "tracking_number": "6A0201", "lines": [{"sku": "TEE", "quantity": 2}]}
    wms.ship("WMS-0001", shipment_id="S-20", parcels=[parcel])
    parcel = {"carrier": "colissimo", "tracking_number": "6A0202", "lines": [{"sku": "MUG", "quantity": 1}]}
    wms.ship("WMS-0002", shipment_id="S-21", parcels=[parcel])

    assert outsourced.partners_sync_all() == 1
    refused = PartnerShipment.objects.get(external_id="S-20")
    assert (refused.status, refused.order_number) == ("failed", first)
    assert "reserved" in refused.error
    assert refused.payload["parcels"][0]["tracking_number"] == "6A0201"
    assert not Shipment.objects.filter(order__number=first).exists()  # nothing of it was written
    assert Order.objects.get(number=second).status == "shipped"
    assert levels(location) == {"TEE": 10, "MUG": 4}
    partner.refresh_from_db()
    assert partner.last_error == "" and partner.last_sync_at is not None
    # read again, it is not applied twice nor stuck: the replay says why, until the stock can take it
    assert outsourced.partner_sync(partner_id=partner.pk) == {"applied": 0, "failed": 0, "snapshot": None}
    with pytest.raises(DomainError):
        outsourced.partner_shipment_replay(received=refused)
    assert PartnerShipment.objects.get(pk=refused.pk).status == "failed"


def test_csv_drop(setup, tmp_path):
    api, partner, location = setup["api"], setup["partner"], setup["location"]
    partner.adapter = WarehousePartner.Adapter.CSV_DROP
    partner.drop_dir = str(tmp_path)
    partner.save()
    number = api.post(
        "/orders/", order_body("W-6", lines=[{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}])
    ).json()["number"]
    request = FulfilmentRequest.objects.get(preparation__order_number=number)
    assert request.status == "sent"
    written = tmp_path / "out" / request.reference
    with written.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [(r["order_number"], r["sku"], r["quantity"], r["ship_city"]) for r in rows] == [
        (number, "TEE", "2", "Lyon"),
        (number, "MUG", "1", "Lyon"),
    ]
    assert not [p for p in os.listdir(tmp_path / "out") if p.startswith(".")]  # no temporary file left
    # the WMS drops a partial shipment, then a stock file
    (tmp_path / "in" / "SHIPMENTS_0001.csv").write_text(
        "shipment_id;order_number;parcel;carrier;tracking_number;weight_g;sku;quantity\r\n"
        f"E-1;{number};1;colissimo;6A0100;800;TEE;2\r\n",
        encoding="utf-8",
    )
    (tmp_path / "in" / "STOCK_20261204.csv").write_text(
        "sku;quantity\r\nTEE;8\r\nMUG;3\r\n", encoding="utf-8"
    )
    outsourced.partner_sync(partner_id=partner.pk)
    assert Order.objects.get(number=number).status == "partially_shipped"
    assert Shipment.objects.get().tracking_number == "6A0100"
    assert sorted(os.listdir(tmp_path / "in" / "done")) == ["SHIPMENTS_0001.csv", "STOCK_20261204.csv"]
    # TEE: 10 - 2 shipped = 8, as counted; MUG: 5 on hand, 1 reserved, 3 counted: 2 missing booked
    assert levels(location) == {"TEE": 8, "MUG": 3}
    snapshot = StockSnapshot.objects.get()
    assert (snapshot.external_id, snapshot.differences, snapshot.units_out) == ("STOCK_20261204", 1, 2)
    call_command("stock_audit")


def test_a_kit_and_the_same_product_alone_shipped_by_the_3pl_each_take_their_own_units(setup, wms):
    """The WMS confirms by SKU. A T-shirt that is both a kit's component and a line of its own is filled line
    by line (the same SKU listed twice in a parcel is one parcel item per line), each component leaves from
    its own allocations (not the first allocation of the kit's line, whichever component it holds), and each
    parcel writes one availability event with its ``parcel.closed``, as the pack station's close does."""
    api, partner, location = setup["api"], setup["partner"], setup["location"]
    tee, mug = setup["tee"], setup["mug"]
    gift = ProductFactory(sku="GIFT", ean="")
    inventory_services.kit_set_components(kit=gift, components=[(tee, 2), (mug, 1)])
    lines = [{"sku": "GIFT", "quantity": 1}, {"sku": "TEE", "quantity": 1}]
    number = api.post("/orders/", order_body("W-K", lines=lines)).json()["number"]
    sent = wms.requests["WMS-0001"]
    assert sorted((x["sku"], x["quantity"]) for x in sent["lines"]) == [("MUG", 1), ("TEE", 1), ("TEE", 2)]
    availability = DomainEvent.objects.filter(code="stock.availability_changed")
    before = availability.count()

    def held():
        rows = Allocation.objects.filter(order__number=number, consumed_at__isnull=True)
        return sorted(rows.values_list("line__sku", "product__sku", "quantity"))

    # every T-shirt first, listed twice in one parcel: the mug stays reserved
    tees = [{"sku": "TEE", "quantity": 1}, {"sku": "TEE", "quantity": 2}]
    parcel = {"carrier": "colissimo", "tracking_number": "6A0101", "lines": tees}
    wms.ship("WMS-0001", shipment_id="S-K1", parcels=[parcel])
    assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 1
    assert PartnerShipment.objects.get(external_id="S-K1").status == "applied"
    assert held() == [("GIFT", "MUG", 1)]
    assert levels(location) == {"TEE": 7, "MUG": 5}
    assert StockLevel.objects.get(location=location, product=mug).reserved == 1
    closed = DomainEvent.objects.get(code="parcel.closed")
    assert closed.payload["partner"] == "Logisticien Lyon"
    assert sorted((x["sku"], x["quantity"]) for x in closed.payload["lines"]) == [("TEE", 1), ("TEE", 2)]
    assert availability.count() == before + 1  # one for the parcel, not one per line
    assert availability.latest("pk").payload["product_ids"] == [tee.pk]
    assert Order.objects.get(number=number).status == "partially_shipped"

    # then the mug: the order is shipped, nothing is left reserved
    parcel = {"carrier": "colissimo", "tracking_number": "6A0102", "lines": [{"sku": "MUG", "quantity": 1}]}
    wms.ship("WMS-0001", shipment_id="S-K2", parcels=[parcel])
    assert outsourced.partner_sync(partner_id=partner.pk)["applied"] == 1
    assert held() == []
    assert levels(location) == {"TEE": 7, "MUG": 4}
    assert StockLevel.objects.get(location=location, product=mug).reserved == 0
    assert Order.objects.get(number=number).status == "shipped"
    assert FulfilmentRequest.objects.get(preparation__order_number=number).status == "shipped"


def test_the_beat_sync_goes_on_past_a_partner_whose_sync_breaks(setup, wms, monkeypatch):
    """A defect of ours with one partner's data (not the WMS answering badly) must not stop the others'
    confirmations: the beat's loop logs it, shows it as that partner's last error, and reads the next."""
    broken = WarehousePartner.objects.create(
        location=LocationFactory(code="3pl-lille", name="Logisticien Lille", kind="outsourced"),
        name="Logisticien Lille",
        base_url=wms.url,
        api_key="wms-secret",
    )
    real = outsourced.partner_sync

    def sync(*, partner_id):
        if partner_id == broken.pk:
            raise ValueError("a payload we did not expect")
        return real(partner_id=partner_id)

    monkeypatch.setattr(outsourced, "partner_sync", sync)
    api, partner = setup["api"], setup["partner"]
    number = api.post("/orders/", order_body("W-8", lines=[{"sku": "MUG", "quantity": 1}])).json()["number"]
    parcel = {"carrier": "colissimo", "tracking_number": "6A0301", "lines": [{"sku": "MUG", "quantity": 1}]}
    wms.ship("WMS-0001", shipment_id="S-30", parcels=[parcel])

    assert outsourced.partners_sync_all() == 1
    assert Order.objects.get(number=number).status == "shipped"
    broken.refresh_from_db()
    assert broken.last_error == "ValueError: a payload we did not expect" and broken.last_error_at
    partner.refresh_from_db()
    assert partner.last_error == ""
