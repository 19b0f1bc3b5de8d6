"""Consumers used by the event log's tests (imported by the tests, and by the worker processes they start
with ``celery worker -I tests.common.eventlog_consumers``). Their effect is a ``auth.Group`` row named
after the event: a unique name, so an event handled twice would fail loudly."""

import os
import time
from pathlib import Path

from django.contrib.auth.models import Group

from common.eventlog import consumer
from common.exceptions import DomainError

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")  # one folder per pytest-xdist worker
FLAGS = Path(os.environ.get("EVENTLOG_TEST_FLAGS", f"/tmp/oms-eventlog-test-{_WORKER}"))  # noqa: S108


@consumer("test.record", codes={"test.happened"}, locks=False)
def record(event):
    Group.objects.create(name=f"seen-{event.pk}")


@consumer("test.flaky", codes={"test.flaky", "test.after"})
def flaky(event):
    """Fails while the flag file ``fail-<event payload key>`` exists."""
    if (FLAGS / f"fail-{event.payload.get('key')}").exists():
        if event.payload.get("refuse"):
            raise DomainError("refused for the test", code="test_refused")
        raise RuntimeError("the test asked this consumer to fail")
    Group.objects.create(name=f"flaky-{event.pk}")


@consumer("test.slow", codes={"test.slow"})
def slow(event):
    """Writes its effect, says it started, then waits while the flag ``hold`` exists (a worker killed
    here must leave nothing behind)."""
    Group.objects.create(name=f"slow-{event.pk}")
    (FLAGS / f"started-{event.pk}").touch()
    deadline = time.monotonic() + 60
    while (FLAGS / "hold").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@consumer("test.picky", codes={"test.picky"}, accepts=lambda e: bool(e.payload.get("want")), locks=False)
def picky(event):
    """Only the events its ``accepts`` takes reach it (a replay would still bring the others)."""
    Group.objects.create(name=f"picky-{event.pk}")


def _record_transaction(name: str, event) -> None:
    """``<consumer>:<event>:<transaction id>``: which consumers' work committed in one transaction."""
    from django.db import connection

    if (FLAGS / f"fail-{name}").exists():
        raise RuntimeError(f"the test asked {name} to fail")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text")
        xid = cursor.fetchone()[0]
    Group.objects.create(name=f"{name}:{event.pk}:{xid}")


# four consumers of ``test.shared``: two that lock nothing, two that say they may (the default)
@consumer("test.share_a", codes={"test.shared"}, locks=False)
def share_a(event):
    _record_transaction("test.share_a", event)


@consumer("test.share_b", codes={"test.shared"}, locks=False)
def share_b(event):
    _record_transaction("test.share_b", event)


@consumer("test.lock_a", codes={"test.shared"})
def lock_a(event):
    _record_transaction("test.lock_a", event)


@consumer("test.lock_b", codes={"test.shared"})
def lock_b(event):
    _record_transaction("test.lock_b", event)
