"""``/healthz``: 200 while requests can be served (``ok`` or ``degraded``), 503 when the database is down."""

import datetime as dt
import time
from unittest import mock

from django.test import override_settings
from django.utils import timezone

from oms.celery import app
from tests.orders.factories import CustomerFactory

KINDS = {
    "invoicing.render",
    "invoicing.send",
    "invoicing.export",
    "fulfillment.print",
    "fulfillment.outsourced_request",
    "shipping.label",
    "orders.return_label",
    "orders.payment_transaction",
    "channels.delivery",
    "channels.import",
    "channels.marketplace_send",
    "channels.stock_push",
    "customers.account_link",
    "customers.notification",
    "inventory.catalogue_import",
    "integrations.webhook_delivery",
    "integrations.endpoint_disabled_notice",
}


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["cache"]["ok"] is True and body["broker"]["ok"] is True
    assert body["jobs"]["overdue"] == 0 and body["jobs"]["oldest_overdue_seconds"] == 0
    assert set(body["jobs"]["kinds"]) == KINDS


def test_healthz_503_when_database_down(client, db):
    with mock.patch("oms.health.connection.cursor", side_effect=OSError("connection refused")):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == {"ok": False, "detail": "OSError"}


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_healthz_degraded_but_200_when_broker_down(client, db):
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = old
    assert time.monotonic() - started < 3
    assert response.status_code == 200  # requests are still served: a load balancer keeps this node
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


def test_healthz_degraded_when_the_cache_is_down(client, db):
    from common.cache import CacheUnavailable

    with mock.patch("django.core.cache.cache.set", side_effect=CacheUnavailable("refused")):
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["cache"] == {"ok": False, "detail": "CacheUnavailable: refused"}


def test_healthz_reports_overdue_jobs(client, db, settings):
    from customers.models import AccountLinkEmail

    settings.JOBS_OVERDUE_WARNING_SECONDS = 600
    customer = CustomerFactory()
    AccountLinkEmail.objects.create(
        customer=customer, link_url="https://x/{token}", job_due_at=timezone.now() - dt.timedelta(minutes=15)
    )

    body = client.get("/healthz").json()

    kind = body["jobs"]["kinds"]["customers.account_link"]
    assert kind["waiting"] == 1 and kind["overdue"] == 1
    assert 899 <= kind["oldest_overdue_seconds"] <= 905
    assert body["jobs"]["overdue"] == 1
    assert body["status"] == "degraded"  # a job 15 minutes overdue: the workers or beat are not running
