"""Connector health: the Connectors page and the dashboard's alert when a sync is late; the 3PL partner's
page with the failed payloads, their replay, and the snapshot's differences."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.health import connector_health
from channels.models import ChannelConnection, WebhookDelivery
from fulfillment.models import FulfilmentRequest, PartnerShipment, StockSnapshot, WarehousePartner
from oms.roles import MANAGER, WAREHOUSE_STAFF
from tests.inventory.factories import LocationFactory
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(db):
    location = LocationFactory(code="3pl", name="Logisticien", kind="outsourced")
    return WarehousePartner.objects.create(
        location=location, name="Logisticien Lyon", base_url="http://wms.invalid", api_key="k"
    )


@pytest.fixture
def shop(db):
    channel = ChannelFactory(code="presta", name="Boutique Presta", kind="prestashop")
    return ChannelConnection.objects.create(
        channel=channel, base_url="https://shop.invalid", poll_orders=True
    )


def test_health_costs_a_fixed_number_of_queries(partner, shop, django_assert_num_queries):
    for i in range(3):
        ChannelConnection.objects.create(channel=ChannelFactory(code=f"c{i}"), base_url="https://x.invalid")
    with django_assert_num_queries(7):
        assert len(connector_health()) == 5


def test_health_late_backlog_errors(partner, shop):
    now = timezone.now()
    # the shop was polled 2 h ago, a delivery failed, one waits since 3 h
    ChannelConnection.objects.filter(pk=shop.pk).update(last_order_sync_at=now - timedelta(hours=2))
    WebhookDelivery.objects.create(
        channel=shop.channel, delivery_id="d1", topic="order", payload="{}", status="failed"
    )
    waiting = WebhookDelivery.objects.create(
        channel=shop.channel, delivery_id="d2", topic="order", payload="{}"
    )
    WebhookDelivery.objects.filter(pk=waiting.pk).update(received_at=now - timedelta(hours=3))
    # the 3PL synced 10 minutes ago (late after 60), one shipment failed
    WarehousePartner.objects.filter(pk=partner.pk).update(last_sync_at=now - timedelta(minutes=10))
    PartnerShipment.objects.create(
        partner=partner, external_id="S1", order_number="CMD-1", payload={}, status="failed", error="x"
    )
    rows = {h.name: h for h in connector_health(now=now)}
    presta, wms = rows["Boutique Presta"], rows["Logisticien Lyon"]
    assert (presta.late, presta.why_late, presta.backlog, presta.errors) == (
        True,
        ["orders", "deliveries"],
        1,
        1,
    )
    assert (wms.late, wms.backlog, wms.errors) == (False, 0, 1)
    # 2 h without a sync: the 3PL is late too
    assert {h.name: h.late for h in connector_health(now=now + timedelta(hours=2))}[
        "Logisticien Lyon"
    ] is True


def test_connectors_page_and_dashboard_alert(client, role_users, partner, shop):
    client.force_login(role_users[MANAGER])
    page = client.get("/settings/connectors/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Boutique Presta" in text and "Logisticien Lyon" in text
    dashboard = client.get("/").content.decode()
    assert "Connectors late" in dashboard or "Connecteurs en retard" in dashboard
    assert f"/settings/3pl/{partner.pk}/" in dashboard
    # once synced, no alert
    WarehousePartner.objects.filter(pk=partner.pk).update(last_sync_at=timezone.now())
    ChannelConnection.objects.filter(pk=shop.pk).update(last_order_sync_at=timezone.now())
    dashboard = client.get("/").content.decode()
    assert "connectors-title" not in dashboard
    # staff without the settings permission: neither page nor alert
    client.force_login(role_users[WAREHOUSE_STAFF])
    assert client.get("/settings/connectors/").status_code == 403


def test_partner_page_shows_failed_payloads_and_snapshot_differences(client, role_users, partner):
    client.force_login(role_users[MANAGER])
    PartnerShipment.objects.create(
        partner=partner,
        external_id="S-77",
        order_number="CMD-2026-000077",
        payload={
            "id": "S-77",
            "parcels": [
                {"carrier": "ups", "tracking_number": "1Z1", "lines": [{"sku": "TEE", "quantity": 1}]}
            ],
        },
        status="failed",
        error="Unknown carrier ups: add it to the carriers, then replay.",
    )
    snapshot = StockSnapshot.objects.create(
        partner=partner, external_id="STOCK-1", taken_at=timezone.now(), products=2, differences=1
    )
    snapshot.lines.create(sku="TEE", theirs=6, ours=7, difference=-1)
    page = client.get(f"/settings/3pl/{partner.pk}/").content.decode()
    assert "S-77" in page and "1Z1" in page and "Unknown carrier ups" in page
    assert "TEE" in page and "-1" in page
    # replaying a confirmation for an order that does not exist says why, and keeps it failed
    received = PartnerShipment.objects.get(external_id="S-77")
    response = client.post(f"/settings/3pl/shipments/{received.pk}/replay/", follow=True)
    assert response.status_code == 200
    received.refresh_from_db()
    assert received.status == "failed"
    assert "CMD-2026-000077" in received.error
    assert client.get(f"/settings/3pl/snapshots/{snapshot.pk}/").status_code == 200
    assert client.get("/settings/3pl/").status_code == 200
    assert FulfilmentRequest.objects.count() == 0
