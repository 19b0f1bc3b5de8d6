"""The domain event log, through its real path: events written in a transaction, consumers after commit
(real commits: ``transaction=True``), late commits, retries, parking and replay, a broker that is down and
a worker process killed in the middle of a consumer."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction

from common import eventlog
from common.models import ConsumerFailure, ConsumerProgress, DomainEvent
from tests.common import eventlog_consumers
from tests.common.eventlog_consumers import FLAGS
from tests.locking import held_elsewhere

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _flags(settings):
    settings.EVENTS_RAISE = False  # as in production: a failing consumer is retried, then parked
    settings.EVENTS_RETRY_BASE_SECONDS = 0
    shutil.rmtree(FLAGS, ignore_errors=True)
    FLAGS.mkdir(parents=True)
    eventlog.progress_ensure()
    yield
    shutil.rmtree(FLAGS, ignore_errors=True)


def _seen(prefix="seen-") -> list[str]:
    return sorted(Group.objects.filter(name__startswith=prefix).values_list("name", flat=True))


def test_consumers_run_after_commit_once_and_never_for_a_rollback():
    with transaction.atomic():
        event = eventlog.emit("test.happened", payload={"n": 1})
        assert _seen() == []  # nothing inside the transaction
    assert _seen() == [f"seen-{event.pk}"]  # right after commit (tasks run eagerly here)

    with pytest.raises(RuntimeError), transaction.atomic():
        eventlog.emit("test.happened", payload={"n": 2})
        raise RuntimeError("the change failed")
    assert eventlog.consume_all() == 0
    assert _seen() == [f"seen-{event.pk}"]
    # Delivered again (a second task, the sweep): nothing is done twice.
    eventlog.consume("test.record")
    eventlog.consume_all()
    assert _seen() == [f"seen-{event.pk}"]
    assert ConsumerProgress.objects.get(name="test.record").processed == 1


def test_a_late_commit_is_never_skipped():
    # given: a transaction takes an event id first and commits last
    first_written = threading.Event()
    release = threading.Event()
    ids = {}

    def slow_writer():
        try:
            with transaction.atomic():
                ids["slow"] = eventlog.emit("test.happened", payload={"who": "slow"}).pk
                first_written.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert first_written.wait(10)
    # when: a later transaction commits first and the consumers read the log meanwhile
    with transaction.atomic():
        ids["fast"] = eventlog.emit("test.happened", payload={"who": "fast"}).pk
    assert ids["slow"] < ids["fast"]
    eventlog.consume_all()
    seen_before = _seen()
    release.set()
    thread.join(10)
    eventlog.consume_all()
    # then: the reader waited for the older transaction rather than moving past its row
    assert f"seen-{ids['slow']}" not in seen_before
    assert _seen() == sorted([f"seen-{ids['slow']}", f"seen-{ids['fast']}"])


def test_a_late_commit_is_never_skipped_when_a_consumer_stops_for_a_retry_in_its_window():
    """A consumer handles A, then B fails and waits for a retry. E, written before A and B by a transaction
    that started after theirs and commits last, was outside the window that was read: the retry must read
    that same window again (B), and E in the next one, not a wider window from A's id on (which skips E)."""

    def xid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_current()")
            return cursor.fetchone()[0]

    (FLAGS / "fail-b").touch()
    started, written, release = threading.Event(), threading.Event(), threading.Event()
    ids = {}

    def late_writer():
        try:
            started.wait(10)
            with transaction.atomic():
                ids["late_xid"] = xid()
                ids["late"] = eventlog.emit("test.flaky", payload={"key": "e"}).pk
                written.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=late_writer)
    thread.start()
    with transaction.atomic():
        ids["early_xid"] = xid()  # this transaction's id comes first...
        started.set()
        assert written.wait(10)  # ...but its events are written after the late one's
        ids["a"] = eventlog.emit("test.flaky", payload={"key": "a"}).pk
        ids["b"] = eventlog.emit("test.flaky", payload={"key": "b"}).pk
    # after this commit the consumer read [lo, the late transaction): A handled, B failed
    assert ids["early_xid"] < ids["late_xid"] and ids["late"] < ids["a"] < ids["b"]
    progress = ConsumerProgress.objects.get(name="test.flaky")
    assert (progress.after_id, progress.attempts) == (ids["a"], 1)
    assert _seen("flaky-") == [f"flaky-{ids['a']}"]
    assert eventlog.backlog()["consumers"]["test.flaky"]["waiting"] == 1  # B (A is handled)

    release.set()
    thread.join(10)
    assert eventlog.backlog()["consumers"]["test.flaky"]["waiting"] == 2  # B and the late one
    (FLAGS / "fail-b").unlink()
    eventlog.consume_all()
    eventlog.consume_all()

    assert _seen("flaky-") == sorted(f"flaky-{ids[k]}" for k in ("a", "b", "late"))


def test_a_failing_consumer_retries_then_parks_and_holds_the_orders_later_events(settings):
    settings.EVENTS_MAX_ATTEMPTS = 3
    (FLAGS / "fail-a").touch()
    with transaction.atomic():
        bad = eventlog.emit("test.flaky", payload={"key": "a"}, order_id=7)
    progress = ConsumerProgress.objects.get(name="test.flaky")
    assert (progress.attempts, progress.retry_at is not None) == (1, True)
    assert "the test asked this consumer to fail" in progress.last_error
    # retried (no wait in this test), then parked at the third attempt
    eventlog.consume("test.flaky")
    eventlog.consume("test.flaky")
    failure = ConsumerFailure.objects.get(consumer="test.flaky", event=bad)
    assert (failure.status, failure.attempts, failure.order_id) == ("parked", 3, 7)
    # the order's next event waits behind it; another order's goes through
    with transaction.atomic():
        later = eventlog.emit("test.after", payload={"key": "b"}, order_id=7)
        other = eventlog.emit("test.after", payload={"key": "c"}, order_id=8)
    assert ConsumerFailure.objects.get(event=later).status == "held"
    assert _seen("flaky-") == [f"flaky-{other.pk}"]

    # a manager fixes the cause and replays: the parked event, then the held one, in order
    (FLAGS / "fail-a").unlink()
    assert eventlog.failure_replay(failure=failure) == 2
    assert _seen("flaky-") == sorted([f"flaky-{bad.pk}", f"flaky-{later.pk}", f"flaky-{other.pk}"])
    assert set(ConsumerFailure.objects.values_list("status", flat=True)) == {"replayed"}
    with transaction.atomic():
        again = eventlog.emit("test.after", payload={"key": "d"}, order_id=7)
    assert f"flaky-{again.pk}" in _seen("flaky-")  # the order flows again


def test_a_business_refusal_is_parked_at_once_and_can_be_discarded():
    (FLAGS / "fail-r").touch()
    with transaction.atomic():
        refused = eventlog.emit("test.flaky", payload={"key": "r", "refuse": True}, order_id=9)
    failure = ConsumerFailure.objects.get(event=refused)
    assert (failure.status, failure.attempts) == ("parked", 1)
    assert "refused for the test" in failure.error
    with pytest.raises(eventlog.ReplayFailed):
        eventlog.failure_replay(failure=failure)
    eventlog.failure_discard(failure=failure)
    assert ConsumerFailure.objects.get(pk=failure.pk).status == "discarded"


def test_when_the_broker_is_down_the_commit_succeeds_and_the_sweep_catches_up(settings):
    from oms.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    old = (app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options)
    _reset_pool(app)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:6397/0"  # nothing listens there: Redis is down
    app.conf.broker_transport_options = {"max_retries": 0}
    try:
        started = time.monotonic()
        with transaction.atomic():
            event = eventlog.emit("test.happened", payload={"n": 3})
        assert time.monotonic() - started < 5  # the commit did not wait on the broker
        assert _seen() == []
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options = old
        _reset_pool(app)
    # beat's sweep, once Redis is back
    from common.tasks import events_sweep

    events_sweep.apply()
    assert _seen() == [f"seen-{event.pk}"]


def _reset_pool(app) -> None:
    """Forget the broker connections made with the other settings (kombu keeps pools per connection)."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def _worker(queue: str) -> subprocess.Popen:
    db = dict(settings.DATABASES["default"])
    env = {
        **os.environ,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_SETTINGS_MODULE": "oms.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "EVENTLOG_TEST_FLAGS": str(FLAGS),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "oms",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-I",
            "tests.common.eventlog_consumers",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait(predicate, timeout=60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis broker)")
def test_a_worker_killed_inside_a_consumer_loses_nothing_and_does_nothing_twice(settings):
    from common.tasks import consume_events, events_sweep
    from oms.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False  # the commit queues the consumers (no worker reads "default")
    old_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    (FLAGS / "hold").touch()
    with transaction.atomic():
        event = eventlog.emit("test.slow", payload={})
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = _worker(queue)
    try:
        consume_events.apply_async(args=["test.slow"], queue=queue)
        started = _wait(lambda: (FLAGS / f"started-{event.pk}").exists())
        assert started, "the worker never started the consumer"
        os.killpg(worker.pid, signal.SIGKILL)  # mid-handler: its effect is written, not committed
        worker.wait(10)
        (FLAGS / "hold").unlink()
        assert _seen("slow-") == []
        # a new worker, and beat's sweep: the event is handled, once
        worker = _worker(queue)
        events_sweep.apply_async(queue=queue)
        assert _wait(lambda: _seen("slow-") == [f"slow-{event.pk}"])
        consume_events.apply_async(args=["test.slow"], queue=queue)  # delivered again: nothing new
        time.sleep(2)
        assert _seen("slow-") == [f"slow-{event.pk}"]
        assert ConsumerProgress.objects.get(name="test.slow").processed == 1
    finally:
        app.conf.task_always_eager = old_eager
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)


def test_the_registry_knows_the_test_consumers():
    assert {"test.record", "test.flaky", "test.slow"} <= set(eventlog.consumers())
    assert eventlog_consumers.record is eventlog.consumers()["test.record"].handler
    assert DomainEvent.objects.count() == 0


def test_a_batch_runs_without_savepoints_and_a_failure_runs_it_again_in_savepoints(settings):
    # given: three events of the flaky consumer in one transaction, the second one failing
    settings.EVENTS_MAX_ATTEMPTS = 3
    (FLAGS / "fail-b").touch()
    with transaction.atomic():
        first = eventlog.emit("test.flaky", payload={"key": "a"}, order_id=21)
        bad = eventlog.emit("test.flaky", payload={"key": "b"}, order_id=22)
        last = eventlog.emit("test.flaky", payload={"key": "c"}, order_id=23)
    # then: the batch ran again in savepoints, so the first event's effect is kept (once: the name is
    # unique) and the consumer waits on the failing one, keeping its place
    assert _seen("flaky-") == [f"flaky-{first.pk}"]
    progress = ConsumerProgress.objects.get(name="test.flaky")
    assert (progress.after_id, progress.attempts) == (first.pk, 1)
    # when: the cause is gone
    (FLAGS / "fail-b").unlink()
    eventlog.consume("test.flaky")
    # then: the rest is handled, each event once
    assert _seen("flaky-") == sorted(f"flaky-{e.pk}" for e in (first, bad, last))
    assert ConsumerProgress.objects.get(name="test.flaky").processed == 3
    assert not ConsumerFailure.objects.exists()


def test_consumers_of_a_queue_share_their_bookkeeping_and_take_no_savepoint(settings):
    # given: events for two consumers and a third with nothing to read, all queued together
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from oms.celery import app

    old_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with transaction.atomic():
            events = [eventlog.emit("test.happened", payload={"n": n}) for n in range(3)]
            events.append(eventlog.emit("test.flaky", payload={"key": "z"}, order_id=5))
    finally:
        app.conf.task_always_eager = old_eager
    eventlog.consume_group(["test.record", "test.flaky", "test.slow"])
    from django.test.utils import CaptureQueriesContext

    # when
    with CaptureQueriesContext(connection) as queries:
        handled, full = eventlog.consume_group(["test.record", "test.flaky", "test.slow"])
    # then: nothing was left (the first call took it all), and a call with nothing to do reads the
    # progress rows with the horizon, the window and moves the idle consumers on: three statements
    assert (handled, full) == (0, False)
    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) <= 3, statements
    assert _seen() == sorted(f"seen-{e.pk}" for e in events[:3])
    assert _seen("flaky-") == [f"flaky-{events[3].pk}"]
    # and handling them took no savepoint
    with transaction.atomic():
        more = [
            eventlog.emit("test.happened", payload={"n": 9}),
            eventlog.emit("test.flaky", payload={"key": "y"}),
        ]
    with CaptureQueriesContext(connection) as queries:
        eventlog.consume_all(names=["test.record", "test.flaky", "test.slow"])
    assert not [q for q in queries if q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert f"seen-{more[0].pk}" in _seen()


def test_events_a_consumer_does_not_accept_are_passed_over_without_its_own_transaction():
    # given
    with transaction.atomic():
        wanted = eventlog.emit("test.picky", payload={"want": True})
        eventlog.emit("test.picky", payload={"want": False})
    assert _seen("picky-") == [f"picky-{wanted.pk}"]
    progress = ConsumerProgress.objects.get(name="test.picky")
    assert (progress.processed, progress.hi, progress.after_id) == (1, None, 0)
    # when: only events it does not want
    with transaction.atomic():
        eventlog.emit("test.picky", payload={"want": False})
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        eventlog.consume("test.picky")
    # then: its place moved on with the shared bookkeeping alone (no lock of its row, no handler)
    assert not [q for q in queries if "FOR UPDATE SKIP LOCKED" in q["sql"] and "IN (SELECT" not in q["sql"]]
    assert _seen("picky-") == [f"picky-{wanted.pk}"]
    assert eventlog.consume("test.picky") == 0
    assert ConsumerProgress.objects.get(name="test.picky").processed == 1


SHARED = ["test.share_a", "test.share_b", "test.lock_a", "test.lock_b"]


def _transactions(event) -> dict[str, str]:
    """Each consumer's transaction id for ``event``, from the rows its handler wrote."""
    names = Group.objects.filter(name__contains=f":{event.pk}:").values_list("name", flat=True)
    return {name.split(":")[0]: name.split(":")[2] for name in names}


def test_consumers_that_lock_nothing_share_one_transaction_with_one_that_may():
    # when: one event for four consumers of a queue, two of which may lock rows
    with transaction.atomic():
        event = eventlog.emit("test.shared", payload={"n": 1})
    # then: every one handled it once; those that lock nothing and the first that may, in one transaction,
    # the second that may in its own
    xids = _transactions(event)
    assert set(xids) == set(SHARED)
    assert xids["test.share_a"] == xids["test.share_b"]
    lockers = sorted(xids[name] == xids["test.share_a"] for name in ("test.lock_a", "test.lock_b"))
    assert lockers == [False, True]
    assert all(ConsumerProgress.objects.get(name=name).processed == 1 for name in SHARED)
    assert eventlog.consume_all() == 0


def test_a_failure_in_a_shared_transaction_is_isolated_retried_and_loses_nothing():
    # given: one of the consumers that share a transaction fails on the event
    (FLAGS / "fail-test.share_b").touch()
    # when
    with transaction.atomic():
        event = eventlog.emit("test.shared", payload={"n": 2})
    # then: the shared transaction was rolled back and each consumer ran in its own: the others' work is
    # kept, once, and the failing one waits for its retry, keeping its place
    xids = _transactions(event)
    assert set(xids) == {"test.share_a", "test.lock_a", "test.lock_b"}
    assert len(set(xids.values())) == 3
    progress = ConsumerProgress.objects.get(name="test.share_b")
    assert (progress.attempts, progress.processed) == (1, 0)
    assert "asked test.share_b to fail" in progress.last_error
    # when: the cause is gone
    (FLAGS / "fail-test.share_b").unlink()
    eventlog.consume_all()
    # then: handled, once, and nothing else twice
    assert set(_transactions(event)) == set(SHARED)
    assert all(ConsumerProgress.objects.get(name=name).processed == 1 for name in SHARED)
    assert not ConsumerFailure.objects.exists()


def test_a_progress_row_another_worker_holds_leaves_the_others_to_work(settings):
    # given: an event for the four, read while another worker holds one of their progress rows
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from oms.celery import app

    old_eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with transaction.atomic():
            event = eventlog.emit("test.shared", payload={"n": 3})
    finally:
        app.conf.task_always_eager = old_eager
    assert _transactions(event) == {}
    with held_elsewhere(lambda: ConsumerProgress.objects.select_for_update().get(name="test.share_a")):
        # when
        eventlog.consume_group(SHARED)
        # then: the three others handled it; the held one was left to the worker holding it
        assert set(_transactions(event)) == {"test.share_b", "test.lock_a", "test.lock_b"}
    eventlog.consume_group(SHARED)
    assert set(_transactions(event)) == set(SHARED)
    assert all(ConsumerProgress.objects.get(name=name).processed == 1 for name in SHARED)
