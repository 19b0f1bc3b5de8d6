"""Outbound webhooks: deliveries made by the event log's consumer, signed, retried with backoff, logged,
replayed, kept in order per order, and the endpoint disabled (its owner told) when it keeps failing."""

import json
from datetime import timedelta

import httpx
import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone, translation
from httpx import Response

from common import jobs
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.webhooks import services
from integrations.webhooks.signing import sign, verify
from orders.services.lifecycle import order_cancel

from .conftest import HOOK, SECRET, place


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """``run(f, ...)``: call ``f`` and then what it queued after commit (the sending tasks), as the
    test's transaction never commits."""

    def run(f, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return f(*args, **kwargs)

    return run


def cancel(order):
    with transaction.atomic():
        order_cancel(order=order, reason="changed my mind")


def test_signature_is_hmac_sha256_of_timestamp_and_body():
    body = b'{"id":"d1"}'
    header = sign(secret="k" * 20, body=body, timestamp=1_700_000_000)
    # given the documented construction, computed independently
    import hashlib
    import hmac

    expected = hmac.new(b"k" * 20, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify(secret="k" * 20, body=body, header=header, now=1_700_000_100)
    # a replay 10 minutes later, another body, another secret: refused
    assert not verify(secret="k" * 20, body=body, header=header, now=1_700_000_600)
    assert not verify(secret="k" * 20, body=b'{"id":"d2"}', header=header, now=1_700_000_100)
    assert not verify(secret="x" * 20, body=body, header=header, now=1_700_000_100)
    assert not verify(secret="k" * 20, body=body, header="garbage", now=1_700_000_100)


def test_order_created_is_delivered_signed_with_a_unique_id(shop, endpoint, receiver, run):
    # when
    order = run(place, shop)
    # then: order.created (and customer.created: a new customer) reached the receiver, signed
    bodies = receiver.bodies()
    assert [b["type"] for b in bodies] == ["customer.created", "order.created", "order.status_changed"]
    request = receiver.requests[1]
    assert verify(secret=SECRET, body=request.content, header=request.headers["OMS-Signature"])
    created = bodies[1]
    delivery = WebhookDelivery.objects.get(event_type="order.created")
    assert request.headers["OMS-Delivery-Id"] == str(delivery.uuid) == created["id"]
    assert request.headers["OMS-Event"] == "order.created"
    assert created["version"] == 1
    assert created["data"]["order"]["number"] == order.number
    assert created["data"]["order"]["status"] == "allocated"
    assert created["data"]["order"]["channel"] == "web"
    assert created["data"]["order"]["customer"]["email"] == "ana@example.fr"
    assert created["data"]["order"]["lines"] == [
        {
            "line": 1,
            "sku": "TSHIRT-M",
            "name": "T-shirt M",
            "quantity": 1,
            "unit_price": "19.90",
            "vat_rate": "20.0",
        }
    ]
    # logged: status, answer excerpt and time
    assert delivery.status == "succeeded"
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert delivery.last_response == "ok"
    assert delivery.last_duration_ms is not None
    assert delivery.job_due_at is None
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 200, True)
    # order.status_changed of the intake (received → allocated) too, since the endpoint asked for it
    assert WebhookDelivery.objects.filter(event_type="order.status_changed").count() == 1


def test_events_not_subscribed_make_no_delivery(shop, receiver, db, run):
    services.endpoint_create(url=HOOK, events=["order.cancelled"], secret=SECRET)
    run(place, shop)
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_retries_with_exponential_backoff_then_disable_and_tell_the_owner(
    shop, endpoint, receiver, settings, run
):
    settings.WEBHOOK_MAX_ATTEMPTS = 13
    receiver.answers = [Response(500, text="boom")] * 100
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        order = run(place, shop)
        run(cancel, order)
        delivery = WebhookDelivery.objects.get(event_type="order.cancelled")
        # the earlier deliveries of the order (created, status changed) fail first and hold it back
        first = WebhookDelivery.objects.filter(order_id=delivery.order_id).order_by("pk").first()
        first.refresh_from_db()
        assert first.status == "retrying"
        assert first.attempts == 1
        assert first.last_status_code == 500 and first.last_response == "boom"
        assert first.next_attempt_at == start + timedelta(seconds=30)
        delays = []
        previous = start
        for _ in range(12):
            first.refresh_from_db()
            if first.status != "retrying":
                break
            clock.move_to(first.next_attempt_at)
            delays.append(round((first.next_attempt_at - previous).total_seconds()))
            previous = first.next_attempt_at
            run(jobs.sweep)
        first.refresh_from_db()
    # 30 s, 1 min, 2 min … doubling: 12 retries over more than 24 hours
    assert delays == [30 * 2**n for n in range(12)]
    assert sum(delays) >= 24 * 3600
    assert first.status == "failed"
    assert first.attempts == 13
    assert WebhookAttempt.objects.filter(delivery=first).count() == 13
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert "13" in endpoint.disabled_reason
    told = [m for m in mail.outbox if m.to == ["owner@example.fr"]]
    assert len(told) == 1
    assert HOOK in told[0].body
    # the later deliveries of the order were never sent before the first (ordering) and wait now
    waiting = WebhookDelivery.objects.filter(order_id=first.order_id, status="pending")
    assert sorted(waiting.values_list("event_type", flat=True)) == [
        "order.cancelled",
        "order.status_changed",
        "order.status_changed",
    ]
    customer = WebhookDelivery.objects.get(event_type="customer.created")
    assert {r.headers["OMS-Delivery-Id"] for r in receiver.requests} == {str(first.uuid), str(customer.uuid)}


def test_a_receiver_that_times_out_is_retried(shop, endpoint, receiver, run):
    receiver.answers = [httpx.ReadTimeout("slow")]
    services.endpoint_update(endpoint=endpoint, url=HOOK, events=["customer.created"])
    with translation.override("en"):  # the error is written in the language of the worker that sent it
        run(place, shop)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "retrying"
    assert delivery.last_status_code is None
    assert "No answer within 10 s" in delivery.last_error
    assert WebhookAttempt.objects.get(delivery=delivery).error == delivery.last_error
    # when: due again, the receiver answers
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        run(jobs.sweep)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 2
    assert [json.loads(r.content)["id"] for r in receiver.requests] == [str(delivery.uuid)] * 2


def test_410_gone_disables_the_endpoint_at_once(shop, endpoint, receiver, run):
    receiver.answers = [Response(410, text="gone")]
    services.endpoint_update(endpoint=endpoint, url=HOOK, events=["customer.created", "order.created"])
    run(place, shop)
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert "410" in endpoint.disabled_reason
    failed = WebhookDelivery.objects.get(event_type="customer.created")
    assert failed.status == "failed" and failed.attempts == 1
    # nothing else is sent while disabled: the order.created delivery waits
    assert WebhookDelivery.objects.get(event_type="order.created").status == "pending"
    assert len(receiver.requests) == 1
    told = [m for m in mail.outbox if m.to == ["owner@example.fr"]]
    assert len(told) == 1 and "410" in told[0].body
    # a new event makes no delivery for a disabled endpoint
    run(place, shop, external_id="SHOP-2", email="bob@example.fr")
    assert WebhookDelivery.objects.count() == 2
    # enabling sends what waited, in order
    run(services.endpoint_enable, endpoint=endpoint)
    assert WebhookDelivery.objects.get(event_type="order.created").status == "succeeded"


def test_replay_one_and_in_bulk_keep_the_delivery_id(shop, endpoint, receiver, run):
    services.endpoint_update(endpoint=endpoint, url=HOOK, events=["customer.created"])
    receiver.answers = [Response(500)] * 3
    run(place, shop, external_id="A", email="a@example.fr")
    run(place, shop, external_id="B", email="b@example.fr")
    WebhookDelivery.objects.update(status="failed", next_attempt_at=None, job_due_at=None)
    first, second = WebhookDelivery.objects.order_by("pk")
    # one by one
    assert run(services.deliveries_replay, endpoint=endpoint, ids=[first.pk]) == 1
    first.refresh_from_db()
    assert first.status == "retrying"  # the receiver answered 500 again (third answer)
    assert first.attempts == 2
    assert run(services.deliveries_replay, endpoint=endpoint, ids=[first.pk]) == 1
    first.refresh_from_db()
    assert first.status == "succeeded"
    # in bulk: every failed one
    assert run(services.deliveries_replay, endpoint=endpoint) == 1
    second.refresh_from_db()
    assert second.status == "succeeded"
    ids = [json.loads(r.content)["id"] for r in receiver.requests]
    assert ids.count(str(first.uuid)) == 3 and ids.count(str(second.uuid)) == 2


def test_events_of_one_order_are_delivered_in_order(shop, endpoint, receiver, run):
    # given: the first delivery of the order fails once
    receiver.answers = [Response(200), Response(503)]  # customer.created ok, order.created 503
    order = run(place, shop)
    run(cancel, order)
    sent = [b["type"] for b in receiver.bodies()]
    assert sent == ["customer.created", "order.created"]  # the later ones wait behind order.created
    waiting = WebhookDelivery.objects.filter(order_id=order.pk).order_by("pk")
    assert [(d.event_type, d.status) for d in waiting] == [
        ("order.created", "retrying"),
        ("order.status_changed", "pending"),
        ("order.status_changed", "pending"),
        ("order.cancelled", "pending"),
    ]
    # a redelivered message for a later one does not jump the queue
    assert services._enqueue([waiting[3].pk]) is None
    assert receiver.bodies()[-1]["type"] == "order.created"
    # when the first is sent, the others follow in order
    with time_machine.travel(waiting[0].next_attempt_at + timedelta(seconds=1)):
        run(jobs.sweep)
    assert [b["type"] for b in receiver.bodies()[2:]] == [
        "order.created",
        "order.status_changed",
        "order.status_changed",
        "order.cancelled",
    ]
    statuses = [b["data"]["change"].get("to") for b in receiver.bodies()[3:5]]
    assert statuses == ["allocated", "cancelled"]


def test_send_test_event_is_logged(endpoint, receiver, run):
    delivery = run(services.endpoint_send_test, endpoint=endpoint)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    body = receiver.bodies()[0]
    assert body["type"] == "webhook.test" and body["id"] == str(delivery.uuid)
    assert verify(
        secret=SECRET, body=receiver.requests[0].content, header=receiver.requests[0].headers["OMS-Signature"]
    )


def test_channel_endpoint_hears_only_about_its_channel(shop, receiver, db, run):
    from tests.api.factories import ChannelFactory, channel_serves

    other = ChannelFactory(code="b2b", name="B2B")
    channel_serves(other, shop["lyon"])
    mine = services.endpoint_create(url=HOOK, events=["order.created"], secret=SECRET, channel=other)
    run(place, shop)  # an order of web
    assert WebhookDelivery.objects.filter(endpoint=mine).count() == 0
    from orders.services.intake import order_create
    from tests.orders.factories import order_input

    run(order_create, channel=other, data=order_input(lines=[("TSHIRT-M", 1)], email="c@example.fr"))
    assert WebhookDelivery.objects.filter(endpoint=mine).count() == 1


def test_customer_events_are_in_the_log_with_nothing_personal(shop, endpoint, receiver, run):
    from common.models import DomainEvent
    from customers.accounts import customer_anonymise

    services.endpoint_update(endpoint=endpoint, url=HOOK, events=["customer.created", "customer.erased"])
    order = run(place, shop)
    created = DomainEvent.objects.get(code="customer.created")
    assert created.payload == {"customer_id": order.customer_id}
    run(customer_anonymise, customer=order.customer)
    erased = DomainEvent.objects.get(code="customer.erased")
    assert erased.payload == {"customer_id": order.customer_id}
    assert [b["type"] for b in receiver.bodies()] == ["customer.created", "customer.erased"]
    assert receiver.bodies()[1]["data"] == {"customer": {"id": order.customer_id}}


def test_a_name_that_now_points_inside_is_not_called(shop, endpoint, receiver, monkeypatch, run):
    from integrations.webhooks import addresses, sending

    sending._checked.clear()
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["169.254.169.254"])
    delivery = run(services.endpoint_send_test, endpoint=endpoint)
    delivery.refresh_from_db()
    assert receiver.requests == []
    assert delivery.status == "retrying"
    assert "169.254.169.254" in delivery.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "https://crm.internal.test/hook",
        "ftp://crm.example.com/hook",
        "https://user:pass@crm.example.com/hook",
    ],
)
def test_private_urls_are_refused(db, url):
    from integrations.exceptions import InvalidWebhookUrl

    with pytest.raises(InvalidWebhookUrl):
        services.endpoint_create(url=url, events=["order.created"], secret=SECRET)
    assert WebhookEndpoint.objects.count() == 0


def test_private_urls_are_allowed_when_the_setting_says_so(db, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    endpoint = services.endpoint_create(url="http://127.0.0.1:8025/hook", events=["order.created"])
    assert endpoint.secret.startswith("whsec_")


def test_sending_a_delivery_costs_a_fixed_number_of_queries(
    endpoint, receiver, django_assert_max_num_queries
):
    """The outbound hot path (bench/webhooks.py): claim, read, POST, log, release."""
    from integrations.webhooks.sending import delivery_send

    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="order.status_changed", payload={"id": "x", "data": {}}
    )
    with django_assert_max_num_queries(9) as captured:
        assert delivery_send(delivery.pk) == "delivered"
    assert len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]) <= 6


def test_the_consumer_reads_the_endpoints_once_per_event(
    shop, endpoint, receiver, django_assert_max_num_queries
):
    """An event with a webhook type costs at most one query when no endpoint wants it (the first after a
    change of the endpoints; none after it, see test_configured.py)."""
    from common.models import DomainEvent
    from integrations.webhooks.services import deliveries_prepare

    WebhookEndpoint.objects.update(events=["order.cancelled"])
    event = DomainEvent.objects.create(code="order.created", order_id=None, payload={})
    with django_assert_max_num_queries(1):
        assert deliveries_prepare(event=event) == []


def test_a_worker_sends_the_other_due_deliveries_in_one_batch_in_order_per_order(
    endpoint, receiver, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """After its own delivery a worker claims the due ones (bench/webhooks.py: ≥ 200/s per worker): sent in
    id order, the successes written for the whole batch at once, an order's later delivery left to follow
    its earlier one, and the drained deliveries' own messages skipped without a statement."""
    from integrations.webhooks.sending import delivery_send

    def make(order_id=None):
        return WebhookDelivery.objects.create(
            endpoint=endpoint, event_type="order.status_changed", order_id=order_id, payload={"id": "x"}
        )

    # given: three deliveries without an order, then two of order 7, and one not due yet
    first, second, third = make(), make(), make()
    earlier, later = make(order_id=7), make(order_id=7)
    not_due = make()
    WebhookDelivery.objects.filter(pk=not_due.pk).update(
        status="retrying", next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with django_assert_max_num_queries(18) as captured:
            assert delivery_send(first.pk) == "delivered"
    # then: one batch after the first: claim (select + update), read, attempts, successes, the order's next
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 10
    sent = [r.headers["OMS-Delivery-Id"] for r in receiver.requests]
    assert sent == [str(d.uuid) for d in (first, second, third, earlier)]
    rows = {d.pk: d for d in WebhookDelivery.objects.all()}
    for d in (first, second, third, earlier):
        row = rows[d.pk]
        assert (row.status, row.attempts, row.last_status_code, row.last_response) == (
            "succeeded",
            1,
            200,
            "ok",
        )
        assert (row.job_lease_until, row.job_due_at, row.job_attempts) == (None, None, 0)
        assert row.delivered_at is not None
    assert WebhookAttempt.objects.filter(succeeded=True).count() == 4
    assert (rows[later.pk].status, rows[later.pk].attempts, rows[later.pk].job_attempts) == ("pending", 0, 0)
    assert (rows[not_due.pk].status, rows[not_due.pk].attempts) == ("retrying", 0)
    assert len(callbacks) == 1  # the order's next delivery, queued once its earlier one was sent
    # when: the messages of the drained deliveries come
    with django_assert_max_num_queries(0):
        assert delivery_send(second.pk) == "skipped"
        assert delivery_send(third.pk) == "skipped"
    # then: the order's later delivery follows when its message comes; the one not due waits for its time
    assert delivery_send(later.pk, drain=False) == "delivered"
    assert delivery_send(not_due.pk, drain=False) == "not due yet"
    assert receiver.requests[-1].headers["OMS-Delivery-Id"] == str(later.uuid)
    assert len(receiver.requests) == 5
