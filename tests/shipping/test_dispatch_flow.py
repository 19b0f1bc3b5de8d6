"""From a closed parcel to a delivered order: the shipping rule chooses the service, the label comes from
the carrier in a task (sandbox), the hand-over writes the manifest and ships the order, tracking (polled or
pushed) moves it to delivered; failures are kept with the carrier's message."""

import hashlib
import hmac
import json
from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from fulfillment import services as fulfillment
from fulfillment.models import Preparation
from orders.models import Order
from shipping import carriers, shipments
from shipping.carriers.sandbox import SandboxAdapter
from shipping.models import Carrier, CarrierService, Shipment, ShippingRule, TrackingEvent
from tests.events import events_of
from tests.fulfillment.conftest import Floor


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def floor(db):
    floor = Floor()
    carrier = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=carrier, code="home", name="Domicile", delivery_mode="home", cutoff_time=time(16)
    )
    floor.carrier = carrier
    ShippingRule.objects.create(
        position=1, name="Everything home by sandbox", delivery_mode="home", service=floor.service
    )
    return floor


def packed(floor, lines, django_capture_on_commit_callbacks, parcels=1, execute=True):
    order = floor.order(lines)
    wave = fulfillment.wave_release(location=floor.lyon)
    while (step := fulfillment.current_step(wave=wave)) is not None:
        fulfillment.pick_scan(wave=wave, code=step.bin_code, actor=floor.picker)
        fulfillment.pick_scan(
            wave=wave, code=step.ean, quantity=step.left, bin_confirmed=step.bin_code, actor=floor.picker
        )
    prep = Preparation.objects.get(order=order)
    result = []
    for line in prep.lines.all():
        with django_capture_on_commit_callbacks(execute=execute):
            fulfillment.pack_scan(preparation=prep, code=line.ean, quantity=line.quantity, actor=floor.picker)
            if parcels > 1 or line == prep.lines.last():
                result.append(
                    fulfillment.parcel_close(preparation=prep, box=None, weight_g=500, actor=floor.picker)
                )
    order.refresh_from_db()
    return order, result


def test_rule_label_handover_tracking_to_delivered(floor, django_capture_on_commit_callbacks):
    order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    assert shipment.service == floor.service  # chosen by the rule
    assert events_of(order, "order.shipping_rule").exists()
    assert shipment.status == Shipment.Status.LABELLED and shipment.tracking_number
    assert shipment.label_pdf.read().startswith(b"%PDF") and shipment.label_zpl.read().startswith(b"^XA")
    assert shipment.recipient["postcode"] == "69003"

    manifest = shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    assert list(manifest.shipments.all()) == [shipment]
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    with pytest.raises(shipments.ShipmentRefused):
        shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)

    # three days later the sandbox carrier says delivered
    Shipment.objects.filter(pk=shipment.pk).update(
        shipped_at=timezone.now() - timedelta(days=3), next_check_at=timezone.now() - timedelta(minutes=1)
    )
    result = shipments.tracking_poll(now=timezone.now())
    assert result["claimed"] == 1 and result["batches"] == 1
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED and shipment.next_check_at is None
    assert order.status == Order.Status.DELIVERED
    codes = list(shipment.events.values_list("code", flat=True))
    assert "SBX_DI" in codes and len(codes) == len(set(codes))
    # a second poll stores nothing twice (and the parcel is no longer due)
    shipments.tracking_poll(now=timezone.now())
    assert TrackingEvent.objects.filter(shipment=shipment).count() == len(codes)


def test_two_parcels_partial_then_full_shipment(floor, django_capture_on_commit_callbacks):
    order, parcels = packed(floor, [("MUG", 1), ("SHIRT", 1)], django_capture_on_commit_callbacks, parcels=2)
    assert len(parcels) == 2
    first, second = parcels
    Shipment.objects.filter(pk=second.pk).update(status=Shipment.Status.LABEL_FAILED)  # held back
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    Shipment.objects.filter(pk=second.pk).update(status=Shipment.Status.LABELLED)
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_a_refused_label_keeps_the_carriers_message(floor, monkeypatch, django_capture_on_commit_callbacks):
    def refuse(self, request):
        raise carriers.PermanentCarrierError("Code postal du destinataire invalide")

    monkeypatch.setattr(SandboxAdapter, "create_label", refuse)
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.LABEL_FAILED
    assert shipment.alert == "label_failed" and "Code postal" in shipment.label_error
    assert shipments.ready_to_hand_over(location_ids=[floor.lyon.pk]) == []


def test_a_passing_carrier_failure_is_retried(floor, monkeypatch, django_capture_on_commit_callbacks):
    calls = []
    real = SandboxAdapter.create_label

    def flaky(self, request):
        calls.append(1)
        if len(calls) == 1:
            raise carriers.RetryableCarrierError("timeout")
        return real(self, request)

    monkeypatch.setattr(SandboxAdapter, "create_label", flaky)
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks, execute=False)
    with pytest.raises(carriers.RetryableCarrierError):  # the task retries it with backoff
        shipments.label_create(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CREATED and shipment.label_error == "timeout"
    shipments.label_create(shipment_id=shipment.pk)  # the retry
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.LABELLED and shipment.label_error == ""
    assert shipment.label_attempts == 2


def test_carrier_webhook(client, floor, settings, django_capture_on_commit_callbacks):
    settings.SANDBOX_WEBHOOK_SECRET = "s3cret"
    order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    shipment.refresh_from_db()
    url = reverse("webhook-carrier", kwargs={"code": "sbx"})
    body = json.dumps(
        {
            "tracking_number": shipment.tracking_number,
            "events": [{"code": "SBX_MD", "at": timezone.now().isoformat()}],
        }
    ).encode()
    bad = client.post(url, body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE="nope")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_signature"
    signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    ok = client.post(url, body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=signature)
    assert ok.status_code == 200, ok.content
    order.refresh_from_db()
    assert order.status == Order.Status.OUT_FOR_DELIVERY


def test_each_hand_over_invoices_what_left(floor, django_capture_on_commit_callbacks):
    from invoicing.models import Invoice
    from tests.invoicing.factories import LegalEntityFactory

    LegalEntityFactory(is_default=True)
    order, parcels = packed(
        floor, [("MUG", 1), ("SHIRT", 1), ("CAP", 1)], django_capture_on_commit_callbacks, parcels=3
    )
    held = [p.pk for p in parcels[1:]]
    Shipment.objects.filter(pk__in=held).update(status=Shipment.Status.LABEL_FAILED)
    for release in ([], held[:1], held[1:]):
        Shipment.objects.filter(pk__in=release).update(status=Shipment.Status.LABELLED)
        shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    invoices = Invoice.objects.filter(order=order, kind="invoice")
    assert invoices.count() == 3  # one per hand-over, each unit once
    assert sorted(line.sku for inv in invoices for line in inv.lines.all()) == ["CAP", "MUG", "SHIRT"]


def test_a_label_job_lost_or_given_up_is_swept_or_ended(
    floor, monkeypatch, django_capture_on_commit_callbacks
):
    """The label is a job (common/jobs.py): due when the parcel is closed, so the sweep asks again if the
    message was lost; a passing failure on the last attempt ends it (label failed, staff ask again)."""
    from common import jobs

    def timeout(self, request):
        raise carriers.RetryableCarrierError("timeout")

    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks, execute=False)
    shipment.refresh_from_db()
    assert shipment.job_due_at is not None and shipment.status == Shipment.Status.CREATED

    monkeypatch.setattr(SandboxAdapter, "create_label", timeout)
    Shipment.objects.filter(pk=shipment.pk).update(label_attempts=shipments.LABEL_MAX_ATTEMPTS - 1)
    result = shipments.label_create(shipment_id=shipment.pk)  # no raise: Celery stops retrying

    assert result.status == Shipment.Status.LABEL_FAILED and result.label_error == "timeout"
    result.refresh_from_db()
    assert result.job_due_at is None and result.job_lease_until is None
    assert jobs.sweep()["shipping.label"] == 0

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        shipments.label_retry(shipment=result)
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.LABELLED and shipment.job_due_at is None


def _post_signed(client, body: bytes, secret: bytes = b"s3cret"):
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
    url = reverse("webhook-carrier", kwargs={"code": "sbx"})
    return client.post(url, body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=signature)


@pytest.mark.parametrize(
    ("body", "code", "error"),
    [
        (b'{"tracking_number": "X"', "malformed_payload", "Unreadable webhook: Expecting ',' delimiter"),
        (
            b'{"tracking_number": "X", "events": "x"}',
            "malformed_payload",
            "Unreadable webhook: string indices",
        ),
        (b'{"tracking_number": "X", "events": [3]}', "malformed_payload", "Unreadable webhook: 'int' object"),
        (
            b'{"tracking_number": "X", "events": [{"code": "\\ud800", "at": "x"}]}',
            "malformed_payload",
            "Unreadable webhook: the string at events[0].code contains a lone UTF-16 surrogate",
        ),
        (b'{"tracking_number": "caf\xe9", "events": []}', "malformed_body", "The body is not UTF-8 text"),
        (b'{"tracking_number": "a\x00", "events": []}', "malformed_body", "The body is not UTF-8 text"),
    ],
    ids=["not json", "events string", "event number", "surrogate", "latin-1", "nul"],
)
def test_a_signed_but_unreadable_carrier_webhook_is_400_and_kept_failed(
    client, floor, settings, body, code, error
):
    from shipping.models import CarrierWebhook

    settings.SANDBOX_WEBHOOK_SECRET = "s3cret"
    response = _post_signed(client, body)
    assert response.status_code == 400
    answer = response.json()["error"]
    call = CarrierWebhook.objects.get()
    assert (answer["code"], answer["details"]) == (code, {"webhook": call.pk})
    assert answer["message"].startswith(error)
    assert (call.status, call.error_code, call.carrier) == ("failed", code, floor.carrier)
    assert call.error == answer["message"]
    assert "\x00" not in call.payload


def test_a_bad_signature_keeps_nothing(client, floor, settings):
    from shipping.models import CarrierWebhook

    settings.SANDBOX_WEBHOOK_SECRET = "s3cret"
    response = _post_signed(client, b"not even json", secret=b"wrong")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"
    assert not CarrierWebhook.objects.exists()


def test_a_failed_carrier_webhook_is_listed_and_replayed_once_fixed(
    client, floor, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from oms.roles import MANAGER
    from shipping.models import CarrierWebhook
    from tests.oms.factories import UserFactory

    settings.SANDBOX_WEBHOOK_SECRET = "s3cret"
    order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    shipment.refresh_from_db()
    body = json.dumps(
        {
            "tracking_number": shipment.tracking_number,
            "events": [{"code": "SBX_MD", "at": "2026-11-25T08:00"}],
        }
    ).encode()
    # given: the adapter refuses a time without an offset (a carrier's format it does not read yet)
    assert _post_signed(client, body).status_code == 400
    call = CarrierWebhook.objects.get()
    assert call.error == "Unreadable webhook: at must be an ISO 8601 time with its offset"

    # staff see it
    client.force_login(UserFactory(role=MANAGER))
    carriers_page = client.get(reverse("shipping:service_list"), HTTP_ACCEPT_LANGUAGE="en")
    assert b"1 failed" in carriers_page.content
    listing = client.get(reverse("shipping:webhook_list"), {"status": "failed"})
    assert reverse("shipping:webhook_detail", args=[call.pk]).encode() in listing.content
    detail = client.get(reverse("shipping:webhook_detail", args=[call.pk]))
    assert b"malformed_payload" in detail.content and shipment.tracking_number.encode() in detail.content

    # when: the adapter is fixed (naive times read as Paris time), then the call replayed
    from shipping.carriers import sandbox as sandbox_module

    real = sandbox_module.parse_datetime
    monkeypatch.setattr(
        sandbox_module,
        "parse_datetime",
        lambda text: (lambda at: timezone.make_aware(at) if at and timezone.is_naive(at) else at)(real(text)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        replay = client.post(reverse("shipping:webhook_detail", args=[call.pk]))

    # then
    assert replay.status_code == 302
    call.refresh_from_db()
    assert (call.status, call.error_code, call.parcels_updated, call.attempts) == ("processed", "", 1, 2)
    order.refresh_from_db()
    assert order.status == Order.Status.OUT_FOR_DELIVERY
    # a processed call is not replayed again
    client.post(reverse("shipping:webhook_detail", args=[call.pk]))
    call.refresh_from_db()
    assert call.attempts == 2


def test_a_webhook_about_a_parcel_we_do_not_know_is_kept_ignored(client, floor, settings):
    from shipping.models import CarrierWebhook

    settings.SANDBOX_WEBHOOK_SECRET = "s3cret"
    body = json.dumps({"tracking_number": "SB-UNKNOWN", "events": []}).encode()
    response = _post_signed(client, body)
    assert response.status_code == 200 and response.json()["updated"] == 0
    call = CarrierWebhook.objects.get()
    assert (call.status, call.error_code, call.error) == (
        "ignored",
        "unknown_parcel",
        "No parcel of this carrier has the tracking number SB-UNKNOWN.",
    )


def test_the_hand_over_consumers_statements_per_shipped_order(floor, django_capture_on_commit_callbacks):
    """What the event log's consumers send for one order of one parcel handed over (issue 21 point 5; the
    journey's ``bench/journey_profile.py --by-consumer`` counts the same per consumer and event): the
    lifecycle moves the order to shipped first, so the hand-over's event tells the parcels and the move to
    shipped finds its message already queued."""
    from invoicing.models import Invoice
    from tests.events import consumer_statements
    from tests.invoicing.factories import LegalEntityFactory

    LegalEntityFactory(is_default=True)
    order, (shipment,) = packed(floor, [("MUG", 1), ("SHIRT", 1)], django_capture_on_commit_callbacks)
    with consumer_statements() as ours:
        shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert Invoice.objects.filter(order=order, kind="invoice").count() == 1
    assert ours == {
        # the order locked, everything left (what was consumed; the lines with whether a parcel waits):
        # shipped (its status not read again under the lock)
        "orders.lifecycle parcels.handed_over": 6,
        # billing in one statement, the order locked (with the buyer's profile), what is due (lines with what
        # is invoiced; what left less the parcels waiting, in one UNION ALL), the invoice (address, number
        # in one upsert, document, lines, event, pending credits) in the consumer's transaction: no savepoint
        "invoicing.issue parcels.handed_over": 10,
        # the order read, its parcels, the parcels' lines, the message (its keys not looked up first: new)
        "orders.notifications parcels.handed_over": 4,
        # nothing owed (the hand-over's invoice covered every unit): neither billing nor the order read
        "invoicing.issue order.status_changed": 1,
        # the order read, its parcels, and their message's keys already there: nothing built
        "orders.notifications order.status_changed": 3,
        "orders.payments order.status_changed": 1,  # the order locked: nothing to capture
        # channels.fulfilment: not run, the move names its channel's kind (not a shop told of its parcels)
    }, ours


def test_the_carriers_news_consumers_statements_per_order(floor, django_capture_on_commit_callbacks):
    """A tracking cycle moves thousands of parcels: what the order's consumers send for each piece of news.
    A parcel in transit moves no order, and its order is not even locked for it; out for delivery and
    delivered move the order; at delivery invoicing has nothing left to issue (the hand-over's invoice
    covered every unit) and says so in one statement."""
    from shipping.carriers import CarrierEvent, TrackingUpdate
    from tests.events import consumer_statements
    from tests.invoicing.factories import LegalEntityFactory

    LegalEntityFactory(is_default=True)
    order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipments.manifest_create(location=floor.lyon, carrier=floor.carrier, actor=floor.picker)
    events = []

    def news(code: str, status: str) -> dict:
        events.append(CarrierEvent(code=code, status=status, label=code, at=timezone.now()))
        update = TrackingUpdate(tracking_number=shipment.tracking_number, events=list(events))
        with consumer_statements() as ours:
            shipments.tracking_apply(shipment_id=shipment.pk, update=update)
        return ours

    in_transit = news("SBX_ET1", Shipment.Status.IN_TRANSIT)
    assert Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED
    assert "orders.lifecycle shipment.status_changed" not in in_transit, in_transit
    out = news("SBX_MD", Shipment.Status.OUT_FOR_DELIVERY)
    assert Order.objects.get(pk=order.pk).status == Order.Status.OUT_FOR_DELIVERY
    assert out == {
        "orders.lifecycle shipment.status_changed": 5,  # the order locked and moved, with its event
        "orders.notifications order.status_changed": 2,  # the customer's message (built by its own job)
    }, out
    delivered = news("SBX_DI", Shipment.Status.DELIVERED)
    assert Order.objects.get(pk=order.pk).status == Order.Status.DELIVERED
    assert delivered == {
        "orders.lifecycle shipment.status_changed": 6,  # the same, once no other parcel is on its way
        "orders.notifications order.status_changed": 2,
        "invoicing.issue order.status_changed": 1,  # nothing owed: neither billing nor the order read
    }, delivered
