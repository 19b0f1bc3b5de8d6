"""Database connections cut with ``pg_terminate_backend`` under a real gunicorn: a connection cut between
requests is replaced without an error; a request whose connection is cut mid-way answers 503 in the API's
error format, writes nothing, and its retry (same Idempotency-Key) creates the order once."""

import threading

import psycopg
import pytest
from django.db import connection, transaction

from inventory.models import StockLevel
from orders.models import IdempotencyKey, Order

from .conftest import order_body, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def monitor():
    """A connection of its own, in autocommit, to watch and terminate the web process's connections."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as conn:
        yield conn


def terminate(monitor, where: str = "true") -> list[int]:
    """Terminate the other connections to the test database that match ``where``; their pids."""
    rows = monitor.execute(
        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 - the tests' own SQL
        f"WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s AND {where}",
        [connection.connection.info.backend_pid],
    ).fetchall()
    return [pid for pid, _ok in rows]


def test_a_connection_cut_between_requests_is_replaced_without_an_error(web, redis, store_front, monitor):
    api = web.client(headers={"Authorization": f"Bearer {store_front['key']}"})
    assert api.get("/api/v1/stock/", params={"sku": "TSHIRT-M"}).status_code == 200
    connection.ensure_connection()

    assert terminate(monitor), "the web process keeps its connection between requests (CONN_MAX_AGE)"

    response = api.get("/api/v1/stock/", params={"sku": "TSHIRT-M"})
    assert response.status_code == 200, response.text
    assert response.json()["locations"][0]["on_hand"] == 10


def test_a_connection_cut_mid_request_is_a_503_and_the_retry_creates_the_order_once(
    web, redis, store_front, monitor
):
    api = web.client(headers={"Authorization": f"Bearer {store_front['key']}"})
    level = StockLevel.objects.get(product=store_front["product"], location=store_front["lyon"])
    answers = {}

    def place():
        answers["first"] = api.post(
            "/api/v1/orders/", json=order_body("SHOP-7001"), headers={"Idempotency-Key": "k-7001"}
        )

    # given: the stock row is locked here, so the order's reservation waits in the database
    with transaction.atomic():
        StockLevel.objects.select_for_update().get(pk=level.pk)
        request = threading.Thread(target=place)
        request.start()
        waiting = "wait_event_type = 'Lock' AND query ILIKE '%%inventory_stocklevel%%'"
        wait_for(
            lambda: monitor.execute(
                f"SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND {waiting}"  # noqa: S608
            ).fetchone(),
            timeout=20,
            what="the request to wait for the stock row",
        )
        # when: its connection is cut mid-request
        assert len(terminate(monitor, waiting)) == 1
    request.join(timeout=30)

    # then: 503 in the API's error format, with Retry-After; nothing was written
    first = answers["first"]
    assert first.status_code == 503, first.text
    assert first.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "The service is briefly unavailable: retry in a few seconds.",
            "details": {},
        }
    }
    assert first.headers["Retry-After"] == "5"
    assert Order.objects.count() == 0
    level.refresh_from_db()
    assert level.reserved == 0
    assert not IdempotencyKey.objects.filter(key="k-7001").exists()  # released: the retry may run at once

    # when: the client retries with the same key
    retry = api.post("/api/v1/orders/", json=order_body("SHOP-7001"), headers={"Idempotency-Key": "k-7001"})

    # then: the order is created once
    assert retry.status_code == 201, retry.text
    assert Order.objects.count() == 1
    level.refresh_from_db()
    assert level.reserved == 2


def test_a_worker_keeps_its_database_connection_from_task_to_task_and_replaces_a_cut_one(
    broker, start_worker, monitor, tmp_path
):
    """Celery's Django fix-up would close the connection around every task (a new PostgreSQL backend per
    task); our workers keep it as the web does, and one cut between tasks is replaced without an error."""
    from oms.celery import app

    start_worker("a")
    probe = tmp_path / "backends"
    probe.touch()

    def backend_pid() -> int:
        done = len(probe.read_text().split())
        app.send_task("faults.backend_pid", args=[str(probe)], queue="default")
        wait_for(lambda: len(probe.read_text().split()) > done, timeout=60, what="the probe task")
        return int(probe.read_text().split()[-1])

    first = backend_pid()
    assert [backend_pid() for _ in range(3)] == [first] * 3  # one backend for every task

    # when: that connection is cut between two tasks (a database restart, an idle timeout, PgBouncer)
    monitor.execute("SELECT pg_terminate_backend(%s)", [first])
    wait_for(
        lambda: not monitor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [first]).fetchone(),
        timeout=10,
        what="the backend to end",
    )

    # then: the next tasks run on a new connection, kept again
    second = backend_pid()
    assert second != first
    assert backend_pid() == second
