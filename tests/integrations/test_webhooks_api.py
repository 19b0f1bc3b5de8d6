"""``/api/v1/webhooks/``: list, create (with an Idempotency-Key), read, delete, in the error format and the
OpenAPI schema; an endpoint belongs to the channel whose key registered it."""

import pytest

from integrations.models import WebhookEndpoint
from orders.models import IdempotencyKey
from tests.api.conftest import Api
from tests.api.factories import ChannelFactory, api_key

from .conftest import HOOK

BODY = {"url": HOOK, "events": ["order.created", "order.cancelled"], "secret": "a-long-random-secret-0001"}


@pytest.fixture
def api(shop):
    return Api(shop["key"])


def test_create_list_read_delete(api, shop):
    # when
    created = api.post("/webhooks/", BODY)
    # then
    assert created.status_code == 201
    body = created.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body == {
        "id": endpoint.pk,
        "url": HOOK,
        "description": "",
        "events": ["order.created", "order.cancelled"],
        "status": "active",
        "disabled_reason": "",
        "created_at": body["created_at"],
        "secret": "a-long-random-secret-0001",
    }
    assert endpoint.channel == shop["channel"]
    assert endpoint.secret == "a-long-random-secret-0001"
    listed = api.get("/webhooks/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == endpoint.pk
    assert "secret" not in listed["results"][0]
    assert api.get(f"/webhooks/{endpoint.pk}/").json()["url"] == HOOK
    deleted = api.client.delete(
        f"/api/v1/webhooks/{endpoint.pk}/", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert deleted.status_code == 204
    assert WebhookEndpoint.objects.count() == 0


def test_a_secret_is_generated_when_none_is_sent(api):
    answer = api.post("/webhooks/", {"url": HOOK, "events": ["order.created"]})
    assert answer.status_code == 201
    assert answer.json()["secret"].startswith("whsec_")
    assert WebhookEndpoint.objects.get().secret == answer.json()["secret"]


def test_idempotency_key_replays_and_refuses_another_body(api):
    headers = {"Idempotency-Key": "3f0c1a52-5b7e-4c55-9d7c-1a2b3c4d5e6f"}
    first = api.post("/webhooks/", BODY, headers=headers)
    again = api.post("/webhooks/", BODY, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert WebhookEndpoint.objects.count() == 1
    other = api.post("/webhooks/", {**BODY, "events": ["order.created"]}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "events": ["order.shipped"]}, "events"),
        ({**BODY, "events": []}, "events"),
        ({**BODY, "url": "not a url"}, "url"),
        ({**BODY, "secret": "short"}, "secret"),
        ({"events": ["order.created"]}, "url"),
    ],
)
def test_invalid_bodies_are_422_with_the_field(api, body, field):
    headers = {"Idempotency-Key": "k-1"}
    answer = api.post("/webhooks/", body, headers=headers)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert WebhookEndpoint.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0  # a refused request stores nothing under the key


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/hook", "http://169.254.169.254/", "https://a.internal.test/x"]
)
def test_private_addresses_are_refused(api, url):
    answer = api.post("/webhooks/", {**BODY, "url": url}, headers={"Idempotency-Key": "k-2"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_webhook_url"
    assert "url" in answer.json()["error"]["details"]
    assert WebhookEndpoint.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0


def test_another_channels_endpoint_is_not_found(api, shop):
    other = ChannelFactory(code="b2b", name="B2B")
    theirs = Api(api_key(other, "all"))
    endpoint_id = theirs.post("/webhooks/", BODY).json()["id"]
    assert api.get("/webhooks/").json()["count"] == 0
    missing = api.get(f"/webhooks/{endpoint_id}/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    refused = api.client.delete(
        f"/api/v1/webhooks/{endpoint_id}/", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert refused.status_code == 404
    assert WebhookEndpoint.objects.count() == 1


def test_a_key_without_the_orders_scope_is_refused(shop):
    catalog_only = Api(api_key(shop["channel"], "catalog"))
    answer = catalog_only.get("/webhooks/")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert Api(None).get("/webhooks/").status_code == 401


def test_the_schema_documents_the_webhooks_api(client, db):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    for text in (
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/",
        "webhooks_create",
        "OMS-Signature",
        "Idempotency-Key",
        "order.status_changed",
        "customer.erased",
    ):
        assert text in schema
