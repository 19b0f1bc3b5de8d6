import os

import pytest
from django.db import connection

from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from tests.inventory.factories import LocationFactory
from tests.oms.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need PostgreSQL's row locks and real concurrency: on SQLite they are
    skipped with a message saying so (in CI, DATABASE_URL points to Postgres and they run)."""
    # Suites that need a server beside PostgreSQL (.ci/run starts them): skipped, saying which variable
    # points at it, on a machine without it.
    for marker, variable in (("replica", "DATABASE_REPLICA_URL"), ("pgbouncer", "DATABASE_PGBOUNCER")):
        if os.environ.get(variable, "").lower() in ("", "0", "false", "no"):
            skip_suite = pytest.mark.skip(reason=f"needs {variable} (.ci/run starts a {marker}: see README)")
            for item in items:
                if marker in item.keywords:
                    item.add_marker(skip_suite)
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... to run it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL", "")
    db = "PostgreSQL" if url.startswith(("postgres", "pgsql")) else "SQLite (postgres-marked tests skipped)"
    return [f"oms: database {db}; broker {'Redis' if os.environ.get('REDIS_URL') else 'none (eager tasks)'}"]


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def warehouse(db):
    return LocationFactory(code="lyon", name="Entrepôt Lyon", kind="warehouse")


@pytest.fixture
def other_warehouse(db):
    return LocationFactory(
        code="lille", name="Entrepôt Lille", kind="warehouse", city="Lille", postcode="59000"
    )


@pytest.fixture
def store(db):
    return LocationFactory(code="paris", name="Magasin Paris", kind="store", city="Paris", postcode="75004")


@pytest.fixture
def role_users(db, warehouse, store):
    """One user per role, scoped as seed_demo does, plus a user with no role."""
    return {
        WAREHOUSE_STAFF: UserFactory(username="wh", role=WAREHOUSE_STAFF, locations=[warehouse]),
        STORE_STAFF: UserFactory(username="st", role=STORE_STAFF, locations=[store]),
        CUSTOMER_SERVICE: UserFactory(username="cs", role=CUSTOMER_SERVICE, locations=[]),
        MANAGER: UserFactory(username="mg", role=MANAGER),
        None: UserFactory(username="norole"),
    }


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Tests roll back their data, not the caches: start each test with empty ones (and what is kept per
    process forgotten: the integrations' configuration, the put-back locations, the boxes; a test that
    wrote them inside its transaction, rolled back, would otherwise leave the memo unkept for the next tests
    of the process, and their statement counts would depend on the tests run before them)."""
    from django.core.cache import cache

    from fulfillment import selectors as floor
    from integrations import configured
    from shipping import selectors

    cache.clear()
    configured.forget()
    floor.put_backs_memo.forget()
    floor.boxes_memo.forget()
    selectors._cached["network"] = None
    yield
    selectors._cached["network"] = None


@pytest.fixture(autouse=True, scope="session")
def _event_consumers_after_service_transactions():
    """A test runs inside a transaction that never commits, so the domain event log's after-commit
    consumers would never run. When the outermost transaction a service opened inside the test ends
    without error (the moment it would have committed), the events it wrote are handled by every consumer,
    as ``common.eventlog`` does after a real commit. Tests marked ``transaction=True`` commit for real and
    go through the real path."""
    from django.db import connections
    from django.db.transaction import Atomic

    from common import eventlog

    original_exit = Atomic.__exit__

    def __exit__(self, exc_type, exc_value, traceback):
        result = original_exit(self, exc_type, exc_value, traceback)
        if exc_type is None and not getattr(self, "_from_testcase", False):
            conn = connections[self.using or "default"]
            if (
                conn.in_atomic_block
                and all(getattr(block, "_from_testcase", False) for block in conn.atomic_blocks)
                and getattr(conn, "_eventlog_uncommitted", None)
            ):
                eventlog.process_uncommitted()
        return result

    Atomic.__exit__ = __exit__
    yield
    Atomic.__exit__ = original_exit


@pytest.fixture(autouse=True)
def _celery_as_configured():
    """Celery reads its configuration from the settings once, lazily: a test that changed
    ``CELERY_TASK_ALWAYS_EAGER`` (through the ``settings`` fixture) before anything read ``app.conf`` would
    leave every later test of the process non-eager. Each test starts from the settings, with no memory
    of a broker that was down in an earlier test."""
    from celery._state import _set_task_join_will_block
    from django.conf import settings

    from common import jobs
    from oms.celery import app

    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    jobs._broker_down_until = 0.0
    # An eager task marks "joining would block" in a process-wide flag and puts back what it found when it
    # ends: two threads running eager tasks at once (the concurrency tests) can leave it set, and every
    # later `.get()` of the process then raises "Never call result.get() within a task!".
    _set_task_join_will_block(False)
    yield


@pytest.fixture(autouse=True)
def _no_events_left_from_other_tests():
    from django.db import connection

    connection._eventlog_uncommitted = []
    yield
    connection._eventlog_uncommitted = []


@pytest.fixture(autouse=True)
def _webhook_hosts_resolve_offline(monkeypatch):
    """Webhook URLs are checked against private addresses (integrations/webhooks/addresses.py), which needs
    DNS: offline, names resolve to a documentation address that counts as public (TEST-NET-3 is not global,
    so 203.0.113.x would be refused: use 93.184.215.14, example.com's address), except names under
    ``.internal.test``, which resolve to a private address."""
    from integrations.webhooks import addresses

    def resolve(host: str, port: int) -> list[str]:
        if host.endswith(".internal.test"):
            return ["10.0.0.5"]
        return ["93.184.215.14"]

    monkeypatch.setattr(addresses, "resolve", resolve)
