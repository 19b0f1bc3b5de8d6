"""The managers' pages: register an endpoint (the generated secret shown once), send a test event, read the
delivery log, replay, disable and enable, delete; the HubSpot connection's token is write-only."""

import pytest
from httpx import Response

from integrations.models import HubspotConnection, WebhookDelivery, WebhookEndpoint
from oms.roles import MANAGER

from .conftest import HOOK


@pytest.fixture
def manager(client, role_users):
    client.force_login(role_users[MANAGER])
    return client


def test_register_an_endpoint_then_send_a_test_event_and_read_the_log(
    manager, receiver, django_capture_on_commit_callbacks
):
    page = manager.get("/settings/webhooks/new/")
    assert page.status_code == 200
    answer = manager.post(
        "/settings/webhooks/new/",
        {"url": HOOK, "events": ["order.created", "return.updated"], "description": "CRM"},
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in answer.content.decode()  # shown once
    assert endpoint.events == ["order.created", "return.updated"]
    assert manager.get(f"/settings/webhooks/{endpoint.pk}/").content.decode().count(endpoint.secret) == 0
    # when
    with django_capture_on_commit_callbacks(execute=True):
        sent = manager.post(f"/settings/webhooks/{endpoint.pk}/test/")
    # then
    assert sent.status_code == 302
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"
    log = manager.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "webhook.test" in log and "HTTP 200" in log
    detail = manager.get(f"/settings/webhooks/deliveries/{delivery.pk}/").content.decode()
    assert str(delivery.uuid) in detail and "&quot;type&quot;: &quot;webhook.test&quot;" in detail


def test_private_url_is_refused_on_the_form(manager):
    answer = manager.post(
        "/settings/webhooks/new/", {"url": "http://127.0.0.1:9000/", "events": ["order.created"]}
    )
    assert answer.status_code == 400
    assert WebhookEndpoint.objects.count() == 0


def test_disable_replay_enable_delete(manager, receiver, django_capture_on_commit_callbacks):
    from integrations.webhooks.services import endpoint_create

    endpoint = endpoint_create(url=HOOK, events=["order.created"], secret="s" * 20)
    receiver.answers = [Response(500)]
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/settings/webhooks/{endpoint.pk}/test/")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", job_due_at=None)
    manager.post(f"/settings/webhooks/{endpoint.pk}/disable/")
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    refused = manager.post(f"/settings/webhooks/{endpoint.pk}/replay/", {"all_failed": "1"}, follow=True)
    assert "enable it first" in refused.content.decode()
    manager.post(f"/settings/webhooks/{endpoint.pk}/enable/")
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/settings/webhooks/{endpoint.pk}/replay/", {"delivery": [str(delivery.pk)]})
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    manager.post(f"/settings/webhooks/{endpoint.pk}/delete/")
    assert WebhookEndpoint.objects.count() == 0


def test_hubspot_token_is_write_only_and_encrypted(manager):
    answer = manager.post(
        "/settings/hubspot/",
        {
            "active": "on",
            "token": "pat-eu1-secret-token",
            "pipeline": "default",
            "burst_limit": "100",
            "stage_shipped": "closedwon",
            "stage_cancelled": "closedlost",
        },
    )
    assert answer.status_code == 302
    connection = HubspotConnection.objects.get()
    assert connection.token == "pat-eu1-secret-token"
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT token FROM integrations_hubspotconnection")
        stored = cursor.fetchone()[0]
    assert "pat-eu1" not in stored
    page = manager.get("/settings/hubspot/").content.decode()
    assert "pat-eu1-secret-token" not in page
    # saving again without a token keeps it
    manager.post("/settings/hubspot/", {"active": "on", "pipeline": "default", "burst_limit": "190"})
    connection.refresh_from_db()
    assert connection.token == "pat-eu1-secret-token" and connection.burst_limit == 190


def test_list_and_log_pages_cost_a_fixed_number_of_queries(manager, django_assert_max_num_queries):
    from integrations.webhooks.services import endpoint_create

    endpoints = [
        endpoint_create(url=f"{HOOK}/{n}", events=["order.created"], secret="s" * 20) for n in range(3)
    ]
    for endpoint in endpoints:
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(endpoint=endpoint, event_type="order.created", payload={"id": str(n)})
                for n in range(60)
            ]
        )
    manager.get("/settings/webhooks/")  # the session and the user, cached for the next requests
    with django_assert_max_num_queries(12):
        page = manager.get("/settings/webhooks/")
    assert page.content.decode().count("/settings/webhooks/") >= 3
    with django_assert_max_num_queries(12):
        log = manager.get(f"/settings/webhooks/{endpoints[0].pk}/")
    assert log.content.decode().count('name="delivery"') == 50  # one page
