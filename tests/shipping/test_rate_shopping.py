"""Rate shopping shown: the services that could take a parcel with price and promised date, the one chosen
and why, a change by hand before the label is printed (on the dispatch page and in the order page's
fragment)."""

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from shipping import shipments
from shipping.models import Carrier, CarrierService, ParcelReturnLabel, Shipment, ShippingRule
from shipping.selectors import shipment_rate_options
from tests.fulfillment.conftest import Floor
from tests.shipping.factories import with_grids
from tests.shipping.test_dispatch_flow import packed

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def floor(db):
    floor = Floor()
    floor.carrier = Carrier.objects.create(code="sbx", name="Sandbox Express", adapter="sandbox")
    floor.service = CarrierService.objects.create(
        carrier=floor.carrier,
        code="home",
        name="Domicile",
        delivery_mode="home",
        cutoff_time=time(16),
        delivery_weekdays="12345",
    )
    with_grids(floor.service, transits=((300, 2), (700, 3)))
    floor.fedex = Carrier.objects.create(code="fedex", name="FedEx", adapter="fedex", sandbox=True)
    floor.express = CarrierService.objects.create(
        carrier=floor.fedex,
        code="priority",
        name="Priority",
        delivery_mode="home",
        cutoff_time=time(17),
        delivery_weekdays="12345",
        is_express=True,
    )
    with_grids(floor.express, transits=((300, 1), (700, 1)))
    from shipping.models import ServiceRate

    ServiceRate.objects.filter(service=floor.express).update(price_excl_vat=Decimal("12.00"))
    floor.relay = CarrierService.objects.create(
        carrier=floor.carrier, code="relay", name="Relais", delivery_mode="relay", cutoff_time=time(16)
    )
    with_grids(floor.relay)
    floor.rule = ShippingRule.objects.create(
        position=1, name="Cheap home", delivery_mode="home", service=floor.service
    )
    return floor


TUESDAY_10H = datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)


def test_options_with_price_promise_and_why(floor, django_capture_on_commit_callbacks):
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    rates = shipment_rate_options(shipment=shipment, now=TUESDAY_10H)
    rows = [
        (o.service.code, o.price_excl_vat, o.promised_on.isoformat(), o.chosen, o.cheapest, o.fastest)
        for o in rates.options
    ]
    assert rows == [
        ("home", Decimal("4.00"), "2026-11-26", True, True, False),  # 2 working days from Tuesday
        ("priority", Decimal("12.00"), "2026-11-25", False, False, True),
    ]
    assert rates.reason == "Shipping rule “Cheap home”."
    assert rates.can_override and rates.refusal == ""


def test_after_the_cutoff_the_parcel_leaves_the_next_working_day(floor, django_capture_on_commit_callbacks):
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    friday_18h = datetime(2026, 11, 27, 18, 0, tzinfo=PARIS)
    rates = shipment_rate_options(shipment=shipment, now=friday_18h)
    promised = {o.service.code: o.promised_on.isoformat() for o in rates.options}
    assert promised == {"home": "2026-12-02", "priority": "2026-12-01"}  # leaves Monday 30


def test_a_change_by_hand_remakes_the_label_and_cancels_the_old_one(
    floor, django_capture_on_commit_callbacks, monkeypatch
):
    cancelled = []
    monkeypatch.setattr(
        "shipping.tasks.label_cancel.apply_async", lambda args=(), **options: cancelled.append(tuple(args))
    )
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    old_number = shipment.tracking_number
    manager = floor.picker
    with django_capture_on_commit_callbacks(execute=True):
        shipments.shipment_service_override(
            shipment=shipment, service=floor.express, actor=manager, note="VIP"
        )
    shipment.refresh_from_db()
    assert shipment.service == floor.express and shipment.status == Shipment.Status.LABELLED
    assert shipment.tracking_number != old_number and len(shipment.tracking_number) == 12  # FedEx's format
    assert (shipment.service_reason, shipment.service_note, shipment.service_chosen_by) == (
        "manual",
        "VIP",
        manager,
    )
    assert cancelled == [(floor.carrier.pk, old_number)]
    rates = shipment_rate_options(shipment=shipment, now=TUESDAY_10H)
    assert rates.reason == "Chosen by hand by picker. VIP"
    assert [o.service.code for o in rates.options if o.chosen] == ["priority"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("printed", "The label was printed: its service can no longer change."),
        ("relay", "Relais does not deliver the way the customer chose (home delivery)."),
        ("heavy", "takes parcels up to 400 g; this one weighs 500 g."),
        ("same", "The parcel already ships with"),
    ],
)
def test_changes_refused_leave_the_parcel_as_it_was(
    floor, django_capture_on_commit_callbacks, change, message
):
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    service = {"relay": floor.relay, "same": floor.service}.get(change, floor.express)
    if change == "printed":
        shipments.label_printed(shipment=shipment)
    if change == "heavy":
        CarrierService.objects.filter(pk=floor.express.pk).update(max_weight_g=400)
        service.refresh_from_db()
    before = Shipment.objects.filter(pk=shipment.pk).values().get()
    with pytest.raises(shipments.ShipmentRefused) as caught:
        shipments.shipment_service_override(shipment=shipment, service=service, actor=floor.picker)
    assert message in caught.value.message
    after = Shipment.objects.filter(pk=shipment.pk).values().get()
    assert {k: v for k, v in after.items() if k != "label_printed_at"} == {
        k: v for k, v in before.items() if k != "label_printed_at"
    }


def test_the_order_page_fragment_and_the_change_through_http(
    floor, client, django_capture_on_commit_callbacks
):
    from oms.roles import MANAGER
    from tests.oms.factories import UserFactory as Users

    order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    manager = Users(username="boss", role=MANAGER)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(manager)
    with translation.override("en"):
        page = client.get(reverse("orders:order_detail", args=[order.number]))
    assert f'hx-get="{reverse("dispatch:order_parcels", args=[order.number])}"' in page.content.decode()
    fragment = client.get(
        reverse("dispatch:order_parcels", args=[order.number]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/orders/{order.number}/",
    )
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert "Sandbox Express Domicile" in html and "FedEx Priority" in html and "chosen" in html
    assert "Shipping rule “Cheap home”." in html
    assert f'value="/orders/{order.number}/"' in html  # back to the order page after a change
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dispatch:service_override", args=[shipment.pk]),
            {"service": floor.express.pk, "note": "Customer in a hurry", "next": f"/orders/{order.number}/"},
        )
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.number}/"
    shipment.refresh_from_db()
    assert shipment.service == floor.express and shipment.service_note == "Customer in a hurry"


def test_a_change_keeps_the_return_label_with_the_new_carrier(floor, django_capture_on_commit_callbacks):
    from shipping.models import ChannelShippingSettings

    ChannelShippingSettings.objects.create(channel=floor.channel, return_label_in_parcel=True)
    _order, (shipment,) = packed(floor, [("MUG", 1)], django_capture_on_commit_callbacks)
    first = ParcelReturnLabel.objects.get(shipment=shipment)
    with django_capture_on_commit_callbacks(execute=True):
        shipments.shipment_service_override(shipment=shipment, service=floor.express, actor=floor.picker)
    second = ParcelReturnLabel.objects.get(shipment=shipment)
    assert second.pk != first.pk and second.carrier == floor.fedex
    assert second.status == ParcelReturnLabel.Status.READY and second.tracking_number.startswith("9")


def test_the_order_fragment_costs_the_same_queries_for_one_or_two_parcels(
    floor, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    from oms.roles import MANAGER
    from shipping.selectors import network_current
    from tests.oms.factories import UserFactory as Users

    order, parcels = packed(floor, [("MUG", 1), ("SHIRT", 1)], django_capture_on_commit_callbacks, parcels=2)
    assert len(parcels) == 2
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(Users(username="boss", role=MANAGER))
    network_current()  # warm the network's cache, as a running server has it
    url = reverse("dispatch:order_parcels", args=[order.number])
    client.get(url)
    # session, user, permissions (2), the user's groups (menu), parcels, services: not one more per parcel
    with django_assert_max_num_queries(7):
        response = client.get(url)
    assert response.content.decode().count('class="parcel-block"') == 2
