"""The webhook accept path's cuts (bench/webhooks.py, issue 17): the channel and its secret kept a few
seconds per process without letting a rotated or revoked secret linger, and the hand-off to the workers by
one kick per burst instead of one Celery message per delivery, with nothing left behind when Redis is away."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from channels import selectors, services
from channels.models import ChannelConnection, WebhookDelivery
from channels.tasks import deliveries_kick, delivery_process
from common import jobs
from common.cache import CacheUnavailable
from orders.models import Order

from .conftest import SECRET, post_shopify, shopify_order

pytestmark = pytest.mark.django_db

NEW_SECRET = "whsec-rotated-5678"


def test_a_kept_secret_leaves_one_statement_to_the_accept_path(
    client, shopify_channel, django_assert_num_queries, django_capture_on_commit_callbacks
):
    # given: a first delivery reads the channel and its secret
    with django_capture_on_commit_callbacks(execute=False):
        with django_assert_num_queries(2):
            assert post_shopify(client, "shopify", shopify_order(), webhook_id="wh-a").status_code == 200
        # when: the next one, within the cache's seconds
        with django_assert_num_queries(1) as captured:
            response = post_shopify(client, "shopify", shopify_order(id=2), webhook_id="wh-b")

    # then: only the delivery's INSERT
    assert response.status_code == 200
    assert captured.captured_queries[0]["sql"].startswith("INSERT")
    assert WebhookDelivery.objects.count() == 2


def test_a_secret_rotated_by_another_process_is_accepted_at_once_and_the_old_one_refused_after_the_cache(
    client, shopify_channel, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # given: this process keeps the old secret; another process rotates it (no signal reaches this one)
    with django_capture_on_commit_callbacks(execute=False):
        assert post_shopify(client, "shopify", shopify_order(), webhook_id="wh-old").status_code == 200
        ChannelConnection.objects.filter(channel=shopify_channel).update(webhook_secret=NEW_SECRET)

        # when / then: the new secret is accepted at once (the kept one refuses it: read again)
        new = post_shopify(client, "shopify", shopify_order(id=2), webhook_id="wh-new", secret=NEW_SECRET)
        assert new.status_code == 200
        # ... and the old one is refused: the process now keeps the new secret
        old = post_shopify(client, "shopify", shopify_order(id=3), webhook_id="wh-old-2", secret=SECRET)
        assert old.status_code == 401

        # given: the old secret kept again, rotated elsewhere, then the cache's seconds pass
        ChannelConnection.objects.filter(channel=shopify_channel).update(webhook_secret=SECRET)
        assert post_shopify(client, "shopify", shopify_order(id=4), webhook_id="wh-4").status_code == 200
        ChannelConnection.objects.filter(channel=shopify_channel).update(webhook_secret=NEW_SECRET)
        later = selectors.time.monotonic() + settings.WEBHOOK_SIGNER_CACHE_SECONDS + 1
        monkeypatch.setattr(selectors.time, "monotonic", lambda: later)
        old = post_shopify(client, "shopify", shopify_order(id=5), webhook_id="wh-5", secret=SECRET)

    # then
    assert old.status_code == 401
    assert set(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == {"wh-old", "wh-new", "wh-4"}


def test_a_secret_or_channel_changed_in_this_process_takes_effect_at_once(
    client, shopify_channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        assert post_shopify(client, "shopify", shopify_order(), webhook_id="wh-1").status_code == 200
        # when: the secret is changed through the model (the connector's page)
        connection = ChannelConnection.objects.get(channel=shopify_channel)
        connection.webhook_secret = NEW_SECRET
        connection.save()
        # then
        assert post_shopify(client, "shopify", shopify_order(id=2), webhook_id="wh-2").status_code == 401
        # when: the channel is deactivated
        shopify_channel.active = False
        shopify_channel.save()
        # then
        gone = post_shopify(client, "shopify", shopify_order(id=3), webhook_id="wh-3", secret=NEW_SECRET)
        assert gone.status_code == 404


@pytest.fixture
def published(settings, monkeypatch):
    """Tasks as with a broker: what would be published is recorded (``ok`` False: the broker is down)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete(services.KICK_KEY)
    sent = []
    state = {"ok": True}

    def enqueue(task, *args, **options):
        sent.append((task.name, args))
        return state["ok"]

    monkeypatch.setattr(jobs, "enqueue", enqueue)
    return _Published(sent, state)


class _Published:
    def __init__(self, sent: list, state: dict):
        self.sent, self.state = sent, state


def test_a_burst_of_deliveries_costs_one_kick_and_the_kick_makes_every_one_an_order(
    client, shopify_channel, published, settings, django_capture_on_commit_callbacks
):
    # when: three deliveries in a row
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            response = post_shopify(client, "shopify", shopify_order(id=100 + n), webhook_id=f"wh-{n}")
            assert response.status_code == 200

    # then: one message for the three, nothing processed yet, each due for the sweep should it be lost
    assert published.sent == [("channels.deliveries_kick", ())]
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["received"] * 3
    assert not WebhookDelivery.objects.filter(job_due_at__isnull=True).exists()

    # when: the worker runs the kick
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert deliveries_kick() == 3

    # then: every delivery is an order, and the next delivery kicks again (the task cleared the flag)
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == ["processed"] * 3
    assert Order.objects.count() == 3
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order(id=200), webhook_id="wh-next")
    assert published.sent == [("channels.deliveries_kick", ())] * 2


def test_the_kick_leaves_alone_a_delivery_a_worker_holds_or_has_tried(client, shopify_channel, published):
    # given: three stored deliveries, one held by a worker, one tried before (its task retries it)
    for n in range(3):
        post_shopify(client, "shopify", shopify_order(id=300 + n), webhook_id=f"wh-{n}")
    held, tried, fresh = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=held.pk).update(job_lease_until=timezone.now() + timedelta(minutes=3))
    WebhookDelivery.objects.filter(pk=tried.pk).update(job_attempts=1)

    # when
    assert services.deliveries_process_new() == 1

    # then
    assert WebhookDelivery.objects.get(pk=fresh.pk).status == "processed"
    assert WebhookDelivery.objects.get(pk=held.pk).status == "received"
    assert WebhookDelivery.objects.get(pk=tried.pk).status == "received"


def test_with_redis_away_a_delivery_answered_200_is_stored_and_the_sweep_has_it_processed(
    client, shopify_channel, published, monkeypatch, settings, django_capture_on_commit_callbacks
):
    # given: Redis (cache and broker) is down
    def down(*args, **kwargs):
        raise CacheUnavailable("Connection refused")

    monkeypatch.setattr(cache, "add", down)
    published.state["ok"] = False

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = post_shopify(client, "shopify", shopify_order(), webhook_id="wh-down")

    # then: answered 200 (the kick was tried and failed), stored, due for the sweep
    assert response.status_code == 200
    assert published.sent == [("channels.deliveries_kick", ())]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.job_due_at is not None) == ("received", True)

    # when: Redis is back; the sweep runs once the delivery's first wait has passed
    published.state["ok"] = True
    queued = jobs.sweep(now=timezone.now() + timedelta(minutes=2))

    # then: the sweep queued the delivery's own task, which makes the order
    assert queued["channels.delivery"] == 1
    assert published.sent[-1] == ("channels.delivery_process", (delivery.pk,))
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert delivery_process(delivery.pk) == "processed"
    assert Order.objects.count() == 1


def test_a_kick_that_could_not_be_published_does_not_hold_back_the_next_one(
    client, shopify_channel, published, django_capture_on_commit_callbacks
):
    # given: the cache answers but the broker does not
    published.state["ok"] = False

    # when: two deliveries
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, "shopify", shopify_order(), webhook_id="wh-1")
        post_shopify(client, "shopify", shopify_order(id=2), webhook_id="wh-2")

    # then: each tried its kick (the failed one cleared its flag); both rows wait for the sweep meanwhile
    assert published.sent == [("channels.deliveries_kick", ())] * 2
    assert cache.get(services.KICK_KEY) is None
    assert WebhookDelivery.objects.filter(status="received", job_due_at__isnull=False).count() == 2


def test_a_backlog_larger_than_a_batch_asks_one_more_worker_process_to_share_it(
    shopify_channel, published, settings
):
    # given: three deliveries stored and never taken
    for n in range(3):
        services.delivery_receive(
            channel=shopify_channel,
            delivery_id=f"wh-{n}",
            topic="orders/create",
            body=json.dumps(shopify_order(id=500 + n)),
            process=False,
        )

    # when: a kick works through them two at a time
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the orders are made here; the helper's message is recorded
    assert services.deliveries_process_new(batch=2) == 3

    # then: one more kick was asked for (another pool process takes the rows this one has not claimed yet)
    assert published.sent == [("channels.deliveries_kick", ())]
    assert list(WebhookDelivery.objects.values_list("status", "error_code")) == [("processed", "")] * 3
