"""Outbound webhooks with a real Redis and real Celery workers, to a real HTTP receiver: nothing is lost while
the broker is down, and a worker killed in the middle of a delivery makes at most the documented duplicate
(the same delivery id, sent again once its lease has expired), never a loss."""

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from common import eventlog, jobs
from integrations.models import WebhookAttempt, WebhookDelivery
from integrations.tasks import webhook_deliver
from integrations.webhooks.services import endpoint_create
from integrations.webhooks.signing import verify
from orders.services.intake import order_create
from tests.api.factories import ChannelFactory, ProductFactory, channel_serves, stock
from tests.inventory.factories import LocationFactory
from tests.orders.factories import order_input

from .conftest import LEASE_SECONDS, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SECRET = "fault-tests-secret-0001"


class Receiver:
    """An HTTP server in a thread that records each delivery; ``hold`` keeps the first request waiting."""

    def __init__(self):
        self.received: list[tuple[dict, dict]] = []
        self.hold = threading.Event()
        self.held = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), json.loads(body), body))
                if receiver.hold.is_set() and not receiver.held.is_set():
                    receiver.held.set()
                    receiver.release.wait(30)
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the worker that sent it is gone

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [headers["OMS-Delivery-Id"] for headers, _body, _raw in self.received]

    def close(self):
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def web_shop(db, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")
    channel = ChannelFactory(code="web", name="Boutique web")
    channel_serves(channel, lyon)
    stock(ProductFactory(sku="TSHIRT-M", name="T-shirt M", price="19.90", vat_rate="20.0"), lyon, 10)
    return channel


def test_nothing_is_lost_while_the_broker_is_down(web_shop, receiver, redis, broker, start_worker):
    endpoint = endpoint_create(
        url=receiver.url, events=["order.created", "order.status_changed"], secret=SECRET
    )
    # given: the broker is down while an order comes in and while beat's event sweep runs
    redis.stop()
    order = order_create(channel=web_shop, data=order_input(lines=[("TSHIRT-M", 1)], external_id="DOWN-1"))
    eventlog.consume_all(names=["webhooks.deliveries"])
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk"))
    assert [d.event_type for d in deliveries] == ["order.created", "order.status_changed"]
    assert all(d.status == "pending" and d.job_due_at is not None for d in deliveries)
    assert receiver.received == []
    # when: the broker is back, a worker runs, and beat's job sweep comes
    redis.start()
    start_worker("webhooks")
    jobs._broker_down_until = 0.0
    WebhookDelivery.objects.update(job_due_at=timezone.now())
    assert jobs.sweep()["integrations.webhook_delivery"] == 2
    wait_for(lambda: len(receiver.received) >= 2, timeout=60, what="the deliveries")
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="succeeded").count() == 2, timeout=30, what="the log"
    )
    # then: each delivered once, in order, signed
    assert receiver.ids() == [str(d.uuid) for d in deliveries]
    for headers, body, raw in receiver.received:
        assert verify(secret=SECRET, body=raw, header=headers["OMS-Signature"])
        assert body["data"]["order"]["number"] == order.number


def test_a_worker_killed_mid_delivery_sends_it_again_with_the_same_id_once(
    web_shop, receiver, broker, start_worker
):
    endpoint = endpoint_create(url=receiver.url, events=["order.created"], secret=SECRET)
    receiver.hold.set()
    doomed = start_worker("doomed")
    # given: the delivery reached the receiver, and the worker dies before reading the answer
    order_create(channel=web_shop, data=order_input(lines=[("TSHIRT-M", 1)], external_id="KILL-1"))
    wait_for(receiver.held.is_set, timeout=60, what="the delivery to reach the receiver")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.job_lease_until is not None
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    receiver.release.set()
    # then: nothing was written about that attempt
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert not WebhookAttempt.objects.filter(delivery=delivery).exists()
    # when: another worker runs and beat's sweep comes after the lease
    healthy = start_worker("healthy")
    wait_for(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, job_lease_until__lte=timezone.now()).exists(),
        timeout=LEASE_SECONDS + 5,
        what="the lease to expire",
    )
    assert jobs.sweep()["integrations.webhook_delivery"] == 1
    wait_for(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status="succeeded").exists(),
        timeout=60,
        what="the delivery to succeed",
    )
    # then: sent twice with the same id (at least once), one attempt logged
    assert receiver.ids() == [str(delivery.uuid)] * 2
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
    # when: the lost message comes back and beat sweeps again: nothing more is sent
    redelivered = webhook_deliver.apply_async(args=[delivery.pk], queue="notifications")
    assert jobs.sweep()["integrations.webhook_delivery"] == 0
    wait_for(
        lambda: f"{redelivered.id}] succeeded" in healthy.log.read_text(errors="replace"),
        timeout=30,
        what="the redelivered message to be handled",
    )
    assert receiver.ids() == [str(delivery.uuid)] * 2
