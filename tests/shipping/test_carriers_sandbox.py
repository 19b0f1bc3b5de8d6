"""The sandbox carrier: real PDF and ZPL labels, relay points from its data set, tracking that advances
deterministically from the hand-over, failures chosen by the tracking number's hash, signed webhooks."""

import hashlib
import hmac
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from shipping.carriers import (
    CANCEL_LABEL,
    LABEL,
    RELAY_SEARCH,
    TRACKING,
    PermanentCarrierError,
    RelaySearch,
    WebhookRejected,
    get_adapter,
)
from shipping.carriers.sandbox import fails_delivery, relay_network, timeline, update_at
from shipping.models import ShipmentStatus

from .carrier_fixtures import label_request

HANDOVER = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def sandbox():
    return get_adapter("sandbox", config={"failure_rate": 0, "webhook_secret": "s3cret"})


def test_sandbox_declares_everything(sandbox):
    assert {LABEL, CANCEL_LABEL, RELAY_SEARCH, TRACKING} <= sandbox.supports


def test_label_is_an_a6_pdf_with_the_tracking_number_and_a_zpl_twin(sandbox):
    label = sandbox.create_label(label_request())
    assert label.tracking_number.startswith("SB") and label.tracking_number.endswith("FR")
    assert len(label.tracking_number) == 15
    reader = PdfReader(io.BytesIO(label.pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (105, 148)
    text = reader.pages[0].extract_text()
    assert label.tracking_number in text
    assert "75004" in text and "CMD-000123-1" in text
    assert label.zpl.startswith("^XA") and label.zpl.rstrip().endswith("^XZ")
    assert f"^BCN,220,Y,N,N^FD{label.tracking_number}^FS" in label.zpl
    assert "^FDVictor Hugo^FS" in label.zpl


def test_same_reference_same_number_and_returns_get_their_own(sandbox):
    first = sandbox.create_label(label_request(formats=("zpl",)))
    again = sandbox.create_label(label_request(formats=("zpl",)))
    back = sandbox.create_return_label(label_request(formats=("zpl",)))
    other = sandbox.create_label(label_request(reference="CMD-000124-1", formats=("zpl",)))
    assert first.tracking_number == again.tracking_number
    assert first.pdf is None and first.zpl
    assert back.tracking_number.startswith("SR") and "RETOUR" in back.zpl
    assert len({first.tracking_number, back.tracking_number, other.tracking_number}) == 3


def test_zpl_field_data_cannot_inject_commands(sandbox):
    label = sandbox.create_label(label_request(reference="A^XZ~JA", formats=("zpl",)))
    assert label.zpl.count("^XZ") == 1
    assert "~JA" not in label.zpl


def test_an_incomplete_request_is_refused_with_its_fields(sandbox):
    with pytest.raises(PermanentCarrierError) as caught:
        sandbox.create_label(
            label_request(
                weight_g=0,
                recipient=label_request().recipient.__class__(
                    name="", line1="x", postcode="75004", city="Paris"
                ),
            )
        )
    assert caught.value.retryable is False
    assert set(caught.value.details) == {"weight_g", "recipient.name"}


def test_relay_search_lists_the_nearest_points_first(sandbox):
    points = sandbox.search_relay_points(RelaySearch(postcode="69003", limit=4))
    assert [p.city for p in points[:3]] == ["Lyon", "Lyon", "Lyon"]
    assert [p.distance_m for p in points] == sorted(p.distance_m for p in points)
    assert points[0].opening_hours.days[1] == [("07:00", "19:30")]
    assert 7 not in points[0].opening_hours.days  # closed on Sunday
    assert sandbox.search_relay_points(RelaySearch(postcode="1000", country="BE")) == []


def test_the_data_set_has_about_forty_points_with_unique_ids():
    network = relay_network()
    assert 40 <= len(network) <= 60
    assert len({p.id for p in network}) == len(network)
    assert all(41 < p.latitude < 52 and -5 < p.longitude < 10 for p in network)


def test_tracking_advances_with_time_for_a_home_delivery():
    number = "SB00000000001FR"
    steps = timeline(number, handed_over_at=HANDOVER)
    assert [code for _at, code in steps] == ["SBX_PC", "SBX_ET1", "SBX_ET2", "SBX_MD", "SBX_DI"]
    assert steps == timeline(number, handed_over_at=HANDOVER)  # deterministic

    def status_at(hours):
        return update_at(number, handed_over_at=HANDOVER, mode="home", now=HANDOVER + timedelta(hours=hours))

    assert status_at(0).events == [] and status_at(0).status == ""
    assert status_at(2).status == ShipmentStatus.HANDED_OVER
    assert status_at(8).status == ShipmentStatus.IN_TRANSIT
    delivered = status_at(24 * 3)
    assert delivered.status == ShipmentStatus.DELIVERED and delivered.final
    assert [e.at for e in delivered.events] == sorted(e.at for e in delivered.events)
    assert not status_at(8).final


def test_a_relay_parcel_becomes_available_then_collected():
    update = update_at(
        "SB00000000002FR", handed_over_at=HANDOVER, mode="relay", now=HANDOVER + timedelta(days=1, hours=12)
    )
    assert update.status == ShipmentStatus.AVAILABLE_FOR_PICKUP
    later = update_at(
        "SB00000000002FR", handed_over_at=HANDOVER, mode="relay", now=HANDOVER + timedelta(days=8)
    )
    assert later.status == ShipmentStatus.DELIVERED and later.final


def test_not_handed_over_means_no_event():
    assert update_at("SB1FR", handed_over_at=None, mode="home", now=HANDOVER).events == []


def test_the_failure_rate_picks_parcels_by_hash_and_they_come_back():
    numbers = [f"SB{n:011d}FR" for n in range(400)]
    failing = [n for n in numbers if fails_delivery(n, 0.25)]
    assert 60 < len(failing) < 140  # about a quarter
    assert set(failing) <= {n for n in numbers if fails_delivery(n, 0.5)}  # a higher rate only adds
    assert not any(fails_delivery(n, 0) for n in numbers)
    assert all(fails_delivery(n, 1) for n in numbers)
    update = update_at(
        failing[0], handed_over_at=HANDOVER, mode="home", failure_rate=0.25, now=HANDOVER + timedelta(days=2)
    )
    assert update.status == ShipmentStatus.EXCEPTION and not update.final
    returned = update_at(
        failing[0], handed_over_at=HANDOVER, mode="home", failure_rate=0.25, now=HANDOVER + timedelta(days=6)
    )
    assert returned.status == ShipmentStatus.RETURNED and returned.final


@pytest.mark.django_db
def test_track_reads_the_hand_over_from_the_shipment(warehouse):
    from shipping.models import Shipment
    from tests.orders.factories import OrderFactory

    from .factories import CarrierServiceFactory

    service = CarrierServiceFactory(delivery_mode="relay")
    order = OrderFactory()
    Shipment.objects.create(
        number="P-1",
        order=order,
        location=warehouse,
        service=service,
        weight_g=500,
        tracking_number="SB00000000003FR",
        shipped_at=HANDOVER,
    )
    Shipment.objects.create(
        number="P-2",
        order=order,
        location=warehouse,
        service=service,
        weight_g=500,
        tracking_number="SB00000000004FR",
    )
    adapter = get_adapter("sandbox", config={"failure_rate": 0}, now=lambda: HANDOVER + timedelta(days=10))
    shipped, waiting, unknown = adapter.track(["SB00000000003FR", "SB00000000004FR", "SB99999999999FR"])
    assert shipped.status == ShipmentStatus.DELIVERED and shipped.events[-1].code == "SBX_DR"
    assert waiting.events == [] and waiting.error == ""
    assert unknown.error and unknown.events == []


def _signed(sandbox, payload):
    body = json.dumps(payload).encode()
    return body, {"X-Sandbox-Signature": hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()}


def test_webhook_with_a_good_signature_is_parsed(sandbox):
    body, headers = _signed(
        sandbox,
        {
            "tracking_number": "SB00000000001FR",
            "events": [
                {"code": "SBX_DI", "at": "2026-11-25T10:00:00+01:00", "place": "Lyon"},
                {"code": "SBX_MD", "at": "2026-11-25T08:00:00+01:00"},
            ],
        },
    )
    (update,) = sandbox.parse_webhook(headers=headers, body=body)
    assert [e.code for e in update.events] == ["SBX_MD", "SBX_DI"]
    assert update.status == ShipmentStatus.DELIVERED and update.final
    assert update.events[1].place == "Lyon"


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"X-Sandbox-Signature": "0" * 64}, b'{"tracking_number": "X", "events": []}'),
        ({}, b'{"tracking_number": "X", "events": []}'),
    ],
)
def test_webhook_with_a_bad_signature_is_rejected(sandbox, headers, body):
    with pytest.raises(WebhookRejected):
        sandbox.parse_webhook(headers=headers, body=body)


def test_webhook_unreadable_body_is_rejected(sandbox):
    body, headers = _signed(
        sandbox, {"tracking_number": "X", "events": [{"code": "SBX_DI", "at": "yesterday"}]}
    )
    with pytest.raises(WebhookRejected) as caught:
        sandbox.parse_webhook(headers=headers, body=body)
    assert caught.value.code == "malformed"


def test_registry_reads_the_failure_rate_from_settings(settings):
    settings.SANDBOX_CARRIER_FAILURE_RATE = 0.3
    assert get_adapter("sandbox").failure_rate == 0.3
    with pytest.raises(LookupError):
        get_adapter("pigeon")
