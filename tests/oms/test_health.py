from unittest import mock

from django.test import override_settings

from oms.celery import app


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True


def test_healthz_503_when_database_down(client, db):
    with mock.patch("oms.health.connection.cursor", side_effect=OSError("connection refused")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "detail": "OSError"}


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_healthz_503_when_broker_down(client, db):
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True
