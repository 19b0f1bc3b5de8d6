"""The kept connection's health check (``CONN_HEALTH_CHECKS``, common/backends/postgresql): no ``SELECT 1``
round trip when the connection's socket has nothing to say, Django's check when it has (a cut connection)."""

import time

import psycopg
import pytest
from django.db import connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def round_trips(monkeypatch):
    """Django's own check (``SELECT 1``) counted."""
    calls = []
    original = type(connections["default"]).is_usable

    def counted(self):
        calls.append(self.alias)
        return original(self)

    monkeypatch.setattr(type(connections["default"]), "is_usable", counted)
    return calls


def _next_request() -> int:
    """What happens between two requests or tasks, then the next one's first query: its backend's pid."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_kept_connection_is_used_without_a_round_trip(round_trips, settings):
    if connection.settings_dict["CONN_MAX_AGE"] == 0:
        pytest.skip("connections are not kept in this configuration")
    assert connection.settings_dict["ENGINE"] == "common.backends.postgresql"
    first = _next_request()
    assert [_next_request() for _ in range(3)] == [first] * 3
    assert round_trips == []


def test_a_connection_cut_while_idle_is_checked_and_replaced(round_trips, settings):
    if connection.settings_dict["CONN_MAX_AGE"] == 0:
        pytest.skip("connections are not kept in this configuration")
    if settings.DATABASE_PGBOUNCER:
        # The pooler lends a server connection per transaction: the backend behind this client changes,
        # and a cut one is PgBouncer's to replace (the client's socket to PgBouncer stays up).
        pytest.skip("behind PgBouncer the client's connection is PgBouncer's, not a backend's")
    first = _next_request()
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
    ) as other:
        other.autocommit = True
        other.execute("SELECT pg_terminate_backend(%s)", [first])
        deadline = time.monotonic() + 10
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [first]).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.05)
    # when: the next request's first query
    second = _next_request()
    # then: the socket said something, Django's check ran, failed, and a new connection answered
    assert second != first
    assert round_trips == ["default"]
