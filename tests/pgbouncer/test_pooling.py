"""The application behind PgBouncer in transaction mode (``.ci/run`` starts one with ``bin/pg-bouncer`` and
runs this suite and the concurrency tests through it, ``DATABASE_PGBOUNCER=true``): every transaction may
land on another server connection, so nothing may rely on session state, named cursors or prepared
statements kept across transactions."""

import threading
from collections import Counter

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F

from inventory.models import Product
from tests.inventory.factories import ProductFactory

pytestmark = [pytest.mark.pgbouncer, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _admin(sql: str) -> list[dict]:
    """PgBouncer's admin console (the ``pgbouncer`` database on its port)."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"], port=s["PORT"], user=s["USER"], dbname="pgbouncer", autocommit=True
    ) as admin:
        cur = admin.execute(sql)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _threads(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} thread(s) failed, first: {errors[0]!r}"
    return results


def test_the_application_talks_to_pgbouncer_in_transaction_mode():
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        server_port = cursor.fetchone()[0]
    assert str(server_port) != str(connection.settings_dict["PORT"])  # the client port is PgBouncer's
    databases = {row["name"]: row for row in _admin("SHOW DATABASES")}
    config = {row["key"]: row["value"] for row in _admin("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert databases[connection.settings_dict["NAME"]]["port"] == server_port  # pooled to the server
    assert settings.DATABASE_PGBOUNCER is True
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"] is None


def test_transactions_of_many_clients_share_a_few_server_connections_without_session_state():
    """16 clients × 40 transactions, each the same statements (well past psycopg's prepare threshold):
    every transaction reads what it wrote, counters end exact, no 'prepared statement does not exist'."""
    products = [ProductFactory(sku=f"POOL-{i}", weight_g=0) for i in range(16)]

    def work(i: int) -> Counter:
        seen = Counter()
        for _ in range(40):
            with transaction.atomic():
                Product.objects.filter(pk=products[i].pk).update(weight_g=F("weight_g") + 1)
                seen[Product.objects.get(pk=products[i].pk).weight_g] += 1
            with connection.cursor() as cursor:  # autocommit statements between transactions
                cursor.execute("SELECT pg_backend_pid()")
                seen["pid", cursor.fetchone()[0]] += 1
        return seen

    results = _threads(16, work)
    for i, product in enumerate(products):
        product.refresh_from_db()
        assert product.weight_g == 40
        assert sorted(k for k in results[i] if isinstance(k, int)) == list(range(1, 41))
    backends = {k[1] for r in results for k in r if isinstance(k, tuple)}
    pools = _admin("SHOW POOLS")
    # 16 clients, 640 transactions: served by at most the pool's server connections
    assert len(backends) <= int(_admin_config("default_pool_size")) * max(1, len(pools))
    assert len(backends) < 16 * 40


def _admin_config(key: str) -> str:
    return {row["key"]: row["value"] for row in _admin("SHOW CONFIG")}[key]


def test_iterator_reads_without_a_server_side_cursor_while_others_write():
    Product.objects.bulk_create(
        Product(sku=f"ITER-{i:05d}", name=f"Article {i}", price="1.00", vat_rate="20.0") for i in range(2500)
    )

    def work(i: int) -> int:
        if i == 0:
            return sum(1 for _ in Product.objects.filter(sku__startswith="ITER-").iterator(chunk_size=100))
        for n in range(50):
            with transaction.atomic():
                ProductFactory(sku=f"OTHER-{i}-{n}")
        return 0

    results = _threads(4, work)
    assert results[0] == 2500


def test_the_event_log_consumers_keep_their_place_through_the_pooler():
    """The log's windows of transaction ids (common/eventlog.py) read pg_current_xact_id and the oldest
    running transaction inside one statement each: through PgBouncer every event is handled once."""
    from common import eventlog
    from common.models import ConsumerProgress

    handled = Counter()
    name = "tests.pgbouncer.counter"

    @eventlog.consumer(name, codes=["test.pgbouncer"])
    def count(event):
        handled[event.payload["n"]] += 1

    eventlog.progress_skip_to_now()  # the consumer reads from here on
    try:

        def work(i: int) -> None:
            for n in range(25):
                with transaction.atomic():
                    eventlog.emit("test.pgbouncer", payload={"n": i * 100 + n})

        _threads(6, work)
        for _ in range(20):
            eventlog.consume(name)
        assert handled == Counter({i * 100 + n: 1 for i in range(6) for n in range(25)})
        assert ConsumerProgress.objects.get(name=name).processed == 150
    finally:
        eventlog._registry.pop(name, None)


def test_pgbouncer_saw_this_suite():
    stats = {row["database"]: row for row in _admin("SHOW STATS")}
    assert int(stats[connection.settings_dict["NAME"]]["total_xact_count"]) > 0
