"""The replica suite runs against a real streaming replica of the test cluster (``.ci/run`` starts one with
``bin/pg-replica``; ``DATABASE_REPLICA_URL`` points at it). The test database is created on the primary as
usual and reaches the standby by streaming; the ``replica`` alias is pointed at the standby's copy of it."""

import contextlib
import os
import time

import environ
import pytest
from django.db import connections

from common import replica


@pytest.fixture(scope="session", autouse=True)
def _replica_alias_on_the_standby(django_db_setup, django_db_blocker):
    url = environ.Env.db_url_config(os.environ["DATABASE_REPLICA_URL"])
    default = connections["default"].settings_dict
    connections["replica"].close()
    # The test settings mirror the alias to the primary's test database; read it on the standby instead.
    connections["replica"].settings_dict = {
        **default,
        "HOST": url["HOST"],
        "PORT": url["PORT"],
        "OPTIONS": {**default.get("OPTIONS", {}), "connect_timeout": 2},
    }
    with django_db_blocker.unblock():
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            assert cursor.fetchone()[0], "DATABASE_REPLICA_URL is not a hot standby"
    yield
    with django_db_blocker.unblock():
        resume_replay()
    connections["replica"].close()


@pytest.fixture(autouse=True)
def _fresh_lag(settings):
    settings.REPLICA_CHECK_SECONDS = 0  # measure the lag on every decision
    replica.forget_status()
    yield
    resume_replay()
    replica.forget_status()


def wait_replayed(timeout: float = 60) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        lsn = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"the standby did not replay up to {lsn} in {timeout:.0f} s")


def resume_replay() -> None:
    with contextlib.suppress(Exception), connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")


@contextlib.contextmanager
def replay_paused():
    """The standby receives the primary's changes but applies none: a lagging replica."""
    wait_replayed()
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
        for _ in range(200):
            cursor.execute("SELECT pg_get_wal_replay_pause_state()")
            if cursor.fetchone()[0] == "paused":
                break
            time.sleep(0.02)
    try:
        yield
    finally:
        resume_replay()
