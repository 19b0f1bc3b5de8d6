"""The integrations' consumers answer "is anything configured?" from memory (integrations/configured.py):
no statement per event when nothing is, and a write of an endpoint or of the HubSpot connection is seen by
the very next event (registered, changed, disabled, enabled, deleted)."""

import pytest
from django.core.cache import cache

from common.cache import CacheUnavailable
from common.models import DomainEvent
from integrations import configured
from integrations.hubspot.sync import connection_save, hubspot_mark
from integrations.models import HubspotConnection, HubspotRecord, WebhookDelivery, WebhookEndpoint
from integrations.webhooks import services
from integrations.webhooks.services import deliveries_prepare

from .conftest import HOOK, SECRET, place


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def run(f, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return f(*args, **kwargs)

    return run


def _event(code="order.created"):
    return DomainEvent.objects.create(code=code, order_id=None, payload={})


def test_with_nothing_configured_an_event_costs_no_statement(db, django_assert_num_queries):
    first, second = _event(), _event()
    with django_assert_num_queries(2):  # the endpoints and the connection, once for the process
        deliveries_prepare(event=first)
        hubspot_mark(event=first)
    with django_assert_num_queries(0):
        assert deliveries_prepare(event=second) == []
        hubspot_mark(event=second)


def test_an_endpoint_registered_after_the_answer_was_kept_gets_the_next_event(shop, receiver, run):
    run(place, shop, external_id="SHOP-1", email="a@example.fr")  # "no endpoint" is now in memory
    assert WebhookDelivery.objects.count() == 0
    services.endpoint_create(url=HOOK, events=["order.created"], secret=SECRET)
    order = run(place, shop, external_id="SHOP-2", email="b@example.fr")
    assert [b["data"]["order"]["number"] for b in receiver.bodies()] == [order.number]


def test_a_deleted_endpoint_gets_nothing_more(shop, endpoint, receiver, run):
    run(place, shop, external_id="SHOP-1", email="a@example.fr")
    sent = len(receiver.requests)
    assert sent == 3
    services.endpoint_delete(endpoint=endpoint)
    run(place, shop, external_id="SHOP-2", email="b@example.fr")  # no error: the endpoint is not tried
    assert len(receiver.requests) == sent
    assert WebhookDelivery.objects.count() == 0  # deleted with their endpoint, none made since


def test_disable_enable_and_change_of_events_are_seen_by_the_next_event(shop, endpoint, db):
    assert len(deliveries_prepare(event=_event())) == 1
    services.endpoint_disable(endpoint=endpoint, reason="test")
    assert deliveries_prepare(event=_event()) == []
    services.endpoint_enable(endpoint=endpoint)
    assert len(deliveries_prepare(event=_event())) == 1
    services.endpoint_update(endpoint=endpoint, url=HOOK, events=["order.cancelled"])
    assert deliveries_prepare(event=_event()) == []


def test_a_write_in_another_process_is_seen_through_the_shared_token(shop, endpoint, db):
    assert len(deliveries_prepare(event=_event())) == 1
    # Another process disables it: its rows change and it deletes the token; this process's copy stays.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status="disabled", disabled_at=endpoint.created_at)
    cache.delete(configured.VERSION_KEY)
    assert deliveries_prepare(event=_event()) == []


def test_without_the_cache_every_event_asks_postgresql(
    shop, endpoint, db, monkeypatch, django_assert_num_queries
):
    def down(*args, **kwargs):
        raise CacheUnavailable("down")

    monkeypatch.setattr(cache, "get", down)
    assert len(deliveries_prepare(event=_event())) == 1
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(events=["order.cancelled"])  # no signal
    event = _event()
    with django_assert_num_queries(1):
        assert deliveries_prepare(event=event) == []


def test_a_hubspot_connection_saved_or_deleted_is_seen_by_the_next_event(db):
    hubspot_mark(event=_event_customer(1))  # "no connection" is now in memory
    assert HubspotRecord.objects.count() == 0
    connection = connection_save(connection=None, data={"active": True, "token": "pat-eu1-test"})
    hubspot_mark(event=_event_customer(2))
    assert list(HubspotRecord.objects.values_list("ref_id", flat=True)) == [2]
    connection_save(connection=connection, data={"active": False})
    hubspot_mark(event=_event_customer(3))
    connection_save(connection=connection, data={"active": True})
    hubspot_mark(event=_event_customer(4))
    HubspotConnection.objects.all().delete()
    hubspot_mark(event=_event_customer(5))
    assert sorted(HubspotRecord.objects.values_list("ref_id", flat=True)) == [2, 4]


def _event_customer(customer_id):
    return DomainEvent.objects.create(code="customer.created", payload={"customer_id": customer_id})


def test_without_a_shared_cache_every_event_asks_postgresql(shop, endpoint, db, settings):
    settings.INTEGRATIONS_CONFIG_CACHED = False  # as with no REDIS_URL: a cache per process
    assert len(deliveries_prepare(event=_event())) == 1
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(events=["order.cancelled"])  # no signal
    assert deliveries_prepare(event=_event()) == []
