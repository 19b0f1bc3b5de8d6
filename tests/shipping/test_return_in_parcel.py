"""The return label in the parcel: made with the outbound label when the channel wants it, printed with it,
and a return request that opens when the carrier first scans it (webhook or daily poll) or when the customer
registers it in the portal — once."""

import hashlib
import hmac
import io
import json
from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from returns import services as returns
from returns.models import Return, ReturnReason, ReturnStatus
from shipping import carriers, shipments
from shipping.models import (
    Carrier,
    CarrierService,
    ChannelShippingSettings,
    ParcelReturnLabel,
    Shipment,
    ShippingRule,
)
from tests.events import events_of
from tests.fulfillment.conftest import Floor
from tests.shipping.test_dispatch_flow import packed

SECRET = "whsec-test"


@pytest.fixture(autouse=True)
def _english(settings):
    settings.SANDBOX_WEBHOOK_SECRET = SECRET
    with translation.override("en"):
        yield


@pytest.fixture
def floor(db):
    floor = Floor()
    floor.carrier = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=floor.carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    ShippingRule.objects.create(
        position=1, name="Home by sandbox", delivery_mode="home", service=floor.service
    )
    ChannelShippingSettings.objects.create(channel=floor.channel, return_label_in_parcel=True)
    return floor


def scan(client, tracking_number, code="SBX_PC", at=None):
    body = json.dumps(
        {
            "tracking_number": tracking_number,
            "events": [{"code": code, "at": (at or timezone.now()).isoformat(), "place": "LYON"}],
        }
    ).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        reverse("webhook-carrier", args=["sbx"]),
        data=body,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=signature,
    )


def test_the_return_label_is_made_with_the_outbound_label_and_printed_with_it(
    floor, client, django_capture_on_commit_callbacks
):
    order, (shipment,) = packed(floor, [("MUG", 1), ("SHIRT", 2)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    label = ParcelReturnLabel.objects.get(shipment=shipment)
    assert shipment.status == Shipment.Status.LABELLED and shipment.channel_id == floor.channel.pk
    assert label.status == ParcelReturnLabel.Status.READY and label.carrier == floor.carrier
    assert label.tracking_number.startswith("SR") and label.tracking_number != shipment.tracking_number
    assert label.label_pdf and label.label_zpl and label.next_check_at is not None
    client.force_login(floor.picker)
    response = client.get(reverse("dispatch:labels", args=[shipment.pk, "pdf"]))
    assert response.status_code == 200
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert len(pages) == 2
    assert shipment.tracking_number in pages[0].extract_text()
    assert "RETOUR / RETURN" in pages[1].extract_text() and label.tracking_number in pages[1].extract_text()
    zpl = client.get(reverse("dispatch:labels", args=[shipment.pk, "zpl"])).content.decode()
    assert zpl.count("^XA") == 2 and label.tracking_number in zpl
    shipment.refresh_from_db()
    assert shipment.label_printed_at is not None  # from now on the service no longer changes
    assert not Return.objects.filter(order=order).exists()  # "label in parcel" only, no return yet


def test_the_carriers_first_scan_opens_the_return_once(floor, client, django_capture_on_commit_callbacks):
    order, (shipment,) = packed(floor, [("MUG", 1), ("SHIRT", 2)], django_capture_on_commit_callbacks)
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    label = ParcelReturnLabel.objects.get(shipment=shipment)

    response = scan(client, label.tracking_number)
    assert response.status_code == 200 and response.json()["updated"] == 1
    ret = Return.objects.get(order=order)
    assert ret.status == ReturnStatus.LABEL_SENT and ret.method == Return.Method.POST
    assert ret.source == Return.Source.PARCEL and ret.tracking_number == label.tracking_number
    assert (
        ret.location == floor.lyon
        and ret.carrier == floor.carrier
        and ret.label_pdf.name == label.label_pdf.name
    )
    assert sorted((line.order_line.sku, line.quantity, line.reason.code) for line in ret.lines.all()) == [
        ("MUG", 1, "not_stated"),
        ("SHIRT", 2, "not_stated"),
    ]
    label.refresh_from_db()
    assert label.status == ParcelReturnLabel.Status.SCANNED and label.return_number == ret.number
    assert events_of(order, "return.requested").count() == 1

    # the carrier tells it again, later: nothing more
    assert (
        scan(
            client, label.tracking_number, code="SBX_ET1", at=timezone.now() + timedelta(hours=3)
        ).status_code
        == 200
    )
    assert Return.objects.filter(order=order).count() == 1
    # and the return goes on as any other: received at the warehouse
    line_ids = {line.pk: (line.quantity, 0) for line in ret.lines.all()}
    returns.return_receive(ret=ret, location=floor.lyon, results=line_ids, actor=floor.picker)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.RECEIVED


def test_the_daily_poll_sees_the_first_scan(floor, django_capture_on_commit_callbacks, monkeypatch):
    order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    label = ParcelReturnLabel.objects.get(shipment=shipment)
    ParcelReturnLabel.objects.filter(pk=label.pk).update(next_check_at=timezone.now() - timedelta(minutes=1))
    at = timezone.now() - timedelta(hours=2)

    def track(self, numbers):
        return [
            carriers.TrackingUpdate(
                tracking_number=n,
                events=[
                    carriers.CarrierEvent(code="SBX_PC", status="handed_over", label="Pris en charge", at=at)
                ],
            )
            for n in numbers
        ]

    from shipping.carriers.sandbox import SandboxAdapter

    monkeypatch.setattr(SandboxAdapter, "track", track)
    assert shipments.return_labels_poll() == 1
    label.refresh_from_db()
    assert label.status == ParcelReturnLabel.Status.SCANNED and label.scanned_at == at
    assert Return.objects.get(order=order).number == label.return_number
    assert shipments.return_labels_poll() == 0  # no longer due


def test_an_unused_label_is_checked_again_tomorrow(floor, django_capture_on_commit_callbacks):
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    label = ParcelReturnLabel.objects.get(shipment=shipment)
    now = timezone.now()
    ParcelReturnLabel.objects.filter(pk=label.pk).update(next_check_at=now - timedelta(minutes=1))
    assert shipments.return_labels_poll(now=now) == 0  # the sandbox does not know it: checked again tomorrow
    label.refresh_from_db()
    assert label.status == ParcelReturnLabel.Status.READY and label.next_check_at == now + timedelta(days=1)


def test_the_customer_registers_the_label_in_the_portal(floor, client, django_capture_on_commit_callbacks):
    order, (shipment,) = packed(floor, [("MUG", 1), ("SHIRT", 2)], django_capture_on_commit_callbacks)
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    label = ParcelReturnLabel.objects.get(shipment=shipment)
    reason = ReturnReason.objects.get(code="wrong_size")
    shirt = order.lines.get(sku="SHIRT")
    with django_capture_on_commit_callbacks(execute=True):
        ret = returns.return_request(
            order=order,
            lines=[returns.LineRequest(order_line=shirt, quantity=1, reason=reason)],
            method=Return.Method.POST,
        )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LABEL_SENT and ret.tracking_number == label.tracking_number
    assert ret.label_pdf.name == label.label_pdf.name  # the label already in the customer's hands
    label.refresh_from_db()
    assert label.status == ParcelReturnLabel.Status.REGISTERED and label.return_number == ret.number
    # the carrier's first scan then opens nothing new
    assert scan(client, label.tracking_number).status_code == 200
    assert Return.objects.filter(order=order).count() == 1
    label.refresh_from_db()
    assert label.scanned_at is not None and label.status == ParcelReturnLabel.Status.REGISTERED


def test_no_return_label_for_a_channel_that_does_not_want_one(floor, django_capture_on_commit_callbacks):
    ChannelShippingSettings.objects.filter(channel=floor.channel).update(return_label_in_parcel=False)
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    assert not ParcelReturnLabel.objects.filter(shipment=shipment).exists()


def test_a_refused_return_label_is_kept_with_the_carriers_message(
    floor, django_capture_on_commit_callbacks, monkeypatch
):
    from shipping.carriers.sandbox import SandboxAdapter

    def refuse(self, request):
        raise carriers.PermanentCarrierError("Return service not open on this account", carrier="sandbox")

    monkeypatch.setattr(SandboxAdapter, "create_return_label", refuse)
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    label = ParcelReturnLabel.objects.get(shipment=shipment)
    assert shipment.status == Shipment.Status.LABELLED  # the parcel still leaves
    assert label.status == ParcelReturnLabel.Status.FAILED and "not open" in label.error
    assert not label.tracking_number
