"""The domain event log: what happened is written down, not broadcast.

**Writing.** A service that changes something others care about calls ``emit`` (or ``emit_many``) inside
its transaction: one ``DomainEvent`` row per fact, committed or rolled back with the change. Nothing else
happens inside the transaction.

**Consuming.** Every side effect that need not be atomic with the change is a *consumer*: a function
registered with ``@consumer(name, codes=...)`` in an app's ``events.py``. After the writer commits, the
log is read by each consumer in turn (a Celery task per queue naming its consumers, published only when
no message for them is on its way, see ``kick``; right after commit, in process, when tasks run eagerly).
A consumer handles its events in a transaction that also moves its progress row
(``ConsumerProgress``), so its database writes and its progress commit together: an event is never
handled twice, and a worker killed in the middle rolls both back, so it is never lost either. The batch
runs without a savepoint per event; a handler that raises has the batch run again with one per event, so
its failure alone is retried or parked (``consume_group``, which also shares the consumers' bookkeeping,
and one transaction between the consumers of a queue that lock no row and one that may). A handler must
therefore only write to the database and queue work after commit (an email outbox row, a webhook delivery
row); it never calls another system itself.

**Never skipping a late commit.** Ids are taken when rows are inserted, not when they commit: a reader
that moved past id 11 would never see id 10 committed a moment later. Each row carries its transaction's
id (``xid``) and a consumer reads the log by windows of transaction ids ``[lo, hi)``, ``hi`` being the
oldest transaction of this database still running: every transaction below it has ended, and any still
running falls in a later window (the same technique as the channels' availability feed). Within a
window rows are read in id order; events of one order are written under that order's lock, so they keep
their order. On SQLite, whose writers are serialised, the row id is the key.

**Failures.** A handler that raises is retried with exponential backoff (the consumer waits, keeping its
place); after ``EVENTS_MAX_ATTEMPTS`` (or at once for a ``DomainError``, a business refusal that a retry
will not change) the event is *parked* (``ConsumerFailure``) and the consumer moves on. For an ordered
consumer, the later events of the same order are held behind the parked one, so that an order's events
are never applied out of order. Managers see parked events (the "Event consumers" page) and replay or
discard them.

**Nothing lost when the broker is down.** Queuing the consumers' task after commit never raises; beat's
``common.events_sweep`` runs every consumer that has something to read.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .exceptions import DomainError
from .models import ConsumerFailure, ConsumerProgress, DomainEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    name: str
    codes: frozenset[str]
    handler: Callable[[DomainEvent], None]
    ordered: bool = True
    queue: str = "default"
    accepts: Callable[[DomainEvent], bool] | None = None
    locks: bool = True


_registry: dict[str, Consumer] = {}


def consumer(
    name: str,
    *,
    codes: Iterable[str],
    ordered: bool = True,
    queue: str = "default",
    accepts: Callable[[DomainEvent], bool] | None = None,
    locks: bool = True,
):
    """Register ``handler(event)`` as the consumer ``name`` of the events whose code is in ``codes``.
    ``ordered``: a parked event of an order holds the consumer's later events of that order. ``accepts``:
    a test of the event alone (its code and payload, no query) that is false for the events the handler
    would do nothing with; those are passed over with the consumers' shared bookkeeping, without a
    transaction of the consumer's own (the handler still returns early on them, for a replay).
    ``locks=False`` says the handler takes no row lock in the lock order (an order, a counter, a
    sequence): it only reads and inserts (an outbox row, a change-log row), so its batch may share one
    transaction with the other consumers of its queue (``consume_group``). The default is the safe one:
    a consumer that locks works in a transaction of its own, or last in the shared one."""

    def register(handler):
        _registry[name] = Consumer(name, frozenset(codes), handler, ordered, queue, accepts, locks)
        return handler

    return register


def consumers() -> dict[str, Consumer]:
    return dict(_registry)


# --- Writing ---------------------------------------------------------------------------------------------


@dataclass
class NewEvent:
    code: str
    payload: dict = field(default_factory=dict)
    order_id: int | None = None
    subject: str = ""
    actor: object = None
    version: int = 1


def emit(
    code: str,
    *,
    payload: dict | None = None,
    order_id: int | None = None,
    subject: str = "",
    actor=None,
    version: int = 1,
) -> DomainEvent:
    """Write one event in the caller's transaction."""
    return emit_many([NewEvent(code, payload or {}, order_id, subject, actor, version)])[0]


def emit_many(events: list[NewEvent], *, rows: bool = True) -> list[DomainEvent] | list[int]:
    """Write several events in one statement, in the caller's transaction. The rows written as
    ``DomainEvent`` instances; ``rows=False``: only their ids (on PostgreSQL no instance is built: a caller
    that does not read them, such as the order intake's ``events_write``, saves building one per event)."""
    now = timezone.now()
    if events and connection.vendor == "postgresql":
        written = _insert_json(events, now, build=rows)
        ids = written if not rows else [row.pk for row in written]
    else:
        written = DomainEvent.objects.bulk_create(
            [
                DomainEvent(
                    code=e.code,
                    version=e.version,
                    payload=e.payload,
                    order_id=e.order_id,
                    subject=e.subject[:100],
                    actor_id=getattr(e.actor, "pk", None),
                    created_at=now,
                )
                for e in events
            ]
        )
        ids = [row.pk for row in written]
        if not rows:
            written = ids
    codes = getattr(_local, "codes", None)
    if codes is None:
        codes = _local.codes = set()
    codes.update(e.code for e in events)
    _after_commit_kick()
    if _in_test_transaction():
        pending = getattr(connection, "_eventlog_uncommitted", None)
        if pending is None:
            pending = connection._eventlog_uncommitted = []
        pending.extend(ids)
        if not _service_block_open():
            process_uncommitted()  # written outside any service transaction: as if committed now
    return written


_INSERT_JSON = (
    f"INSERT INTO {DomainEvent._meta.db_table} "  # noqa: S608 - the model's own table
    "(code, version, payload, order_id, subject, actor_id, created_at) "
    "SELECT e->>0, (e->>1)::smallint, e->2, (e->>3)::bigint, e->>4, (e->>5)::bigint, %s "
    "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n RETURNING id, xid"
)


def _insert_json(events: list[NewEvent], now, *, build: bool = True) -> list[DomainEvent] | list[int]:
    """PostgreSQL: the events as one JSON parameter, ``INSERT … SELECT FROM jsonb_array_elements``: the
    statement's text is the same whatever the number of events (the driver parses it once), and the rows are
    one ``json.dumps`` rather than Django's per-field preparation and the driver's per-value quoting of a
    ``bulk_create`` (about a third of a tracking batch's Python, 100 parcels, was its ``emit_many``)."""
    rows = [
        [e.code, e.version, e.payload, e.order_id, e.subject[:100], getattr(e.actor, "pk", None)]
        for e in events
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_JSON, [now, json.dumps(rows)])
        returned = cursor.fetchall()
    if not build:
        return [pk for pk, _xid in returned]
    made = []
    for e, row, (pk, xid) in zip(events, rows, returned, strict=True):
        event = DomainEvent(
            id=pk,
            code=e.code,
            version=e.version,
            payload=e.payload,
            order_id=e.order_id,
            subject=e.subject[:100],
            actor_id=row[5],
            xid=xid,
            created_at=now,
        )
        event._state.adding = False  # stored, as bulk_create leaves its rows
        event._state.db = connection.alias
        made.append(event)
    return made


def _after_commit_kick() -> None:
    """Queue the consumers once per transaction, after it commits."""
    if connection.in_atomic_block and any(func is kick for _sids, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(kick, robust=True)


# --- Dispatching -------------------------------------------------------------------------------------------

_local = threading.local()
_ensured: set[str] = set()  # consumers whose progress row this process has seen


# A consumer's kick flag (``KICK_PREFIX`` + its name) is set in Redis while a message naming it is on its way:
# a web that finds it set has nothing to publish (``kick``), and the task clears the flags of the consumers it
# names before reading the log (``common.tasks.consume_events``). Why no event waits: an event whose web found
# the flag set was committed before that web tried to set it, so before the task cleared it, so before the
# task's read; an event committed after the clear sets the flag again and publishes a new message. A flag
# whose message was lost (Redis restarted, a worker killed) stops holding back new messages after
# ``KICK_SECONDS``, and beat's sweep (30 s) runs every consumer meanwhile.
KICK_PREFIX = "events:kick:"
KICK_SECONDS = 30


def kick_keys(names: Iterable[str]) -> list[str]:
    return [KICK_PREFIX + name for name in names]


def kick() -> None:
    """Something was written: have the consumers of what was written read the log. Never raises (the
    sweep catches up)."""
    codes = getattr(_local, "codes", None) or set()
    _local.codes = set()
    names = [c.name for c in _registry.values() if c.codes & codes] if codes else list(_registry)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        consume_all(names=names)
        return
    if not names:
        return
    from .cache import cache_add_flags, cache_delete_many
    from .jobs import enqueue
    from .tasks import consume_events

    # One round trip with Redis sets the flags of every consumer concerned (``SET NX``); only the consumers
    # whose flag was not set yet need a message, one per queue naming them (not one per consumer). Under
    # load a worker's message is usually on its way already: the request publishes nothing. Redis away:
    # publish for all (that fails fast too, and the sweep catches up).
    flags = cache_add_flags(kick_keys(names), KICK_SECONDS)
    per_queue: dict[str, list[str]] = {}
    for index, name in enumerate(names):
        if flags is None or flags[index]:
            per_queue.setdefault(_registry[name].queue, []).append(name)
    for queue, group in per_queue.items():
        if not enqueue(consume_events, group[0] if len(group) == 1 else group, queue=queue) and flags:
            cache_delete_many(kick_keys(group))  # no message on its way: the next commit tries again


def consume_all(*, names: list[str] | None = None, limit: int = 200, rounds: int = 50) -> int:
    """Run every consumer (or those named) until none has anything left (eager mode and the sweep), the
    consumers of a queue together as its worker runs them (``consume_group``). Re-entrant calls (a
    consumer's own events, committed inside this loop) are folded into the running loop, which then runs
    every consumer again."""
    if getattr(_local, "consuming", False):
        _local.again = True
        return 0
    _local.consuming = True
    total = 0
    try:
        for _round in range(rounds):
            _local.again = False
            busy = False
            for group in _by_queue(names if names is not None and _round == 0 else list(_registry)):
                done, full = consume_group(group, limit=limit)
                total += done
                busy = busy or full
            if not busy and not _local.again:
                break
    finally:
        _local.consuming = False
    return total


def _by_queue(names: Iterable[str]) -> list[list[str]]:
    per_queue: dict[str, list[str]] = {}
    for name in names:
        per_queue.setdefault(_registry[name].queue, []).append(name)
    return list(per_queue.values())


def _key() -> str:
    return "xid" if connection.vendor == "postgresql" else "id"


# The oldest transaction of this database still running (every older one has ended), or the next
# transaction id when none runs. The snapshot's own xmin would do, but it counts every database of the
# cluster: a long transaction elsewhere would hold the log back.
_HORIZON = """(
SELECT LEAST(
    pg_snapshot_xmax(s.snap)::text::bigint,
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s.snap) AS x
     WHERE mod(x::text::bigint, 4294967296) IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL)))
FROM (SELECT pg_current_snapshot() AS snap) AS s)"""


# The ids of the next events of several consumers' windows (``consume_group``), each window a JSON object
# {lo, hi, after, codes}: each window's first ``limit`` events by id, in one array. The statement's text is
# the same whatever the windows (an OR of one term per window made a new text for each set of consumers
# with events, never prepared, and planned at every call over every partition: ~0.6 ms of PostgreSQL per
# order, bench/README.md); PostgreSQL keeps a generic plan of it from its sixth run on a connection.
_PAGE_IDS = """"common_domainevent"."id" = ANY(ARRAY(
SELECT e.id
FROM jsonb_to_recordset(%s::jsonb) AS w(lo bigint, hi bigint, after bigint, codes text[])
CROSS JOIN LATERAL (
    SELECT d.id FROM common_domainevent d
    WHERE d.xid >= w.lo AND d.xid < w.hi AND d.id > w.after AND d.code = ANY(w.codes)
    ORDER BY d.id LIMIT %s::integer) AS e))"""


def horizon() -> int:
    """The upper end (exclusive) of what can be read now: no transaction below it can still commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_HORIZON}")  # noqa: S608 - a constant
            return int(cursor.fetchone()[0])
    last = DomainEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return last + 1


def progress_ensure(*, names: Iterable[str] | None = None) -> None:
    """Create the progress rows of consumers that have none, starting at the present: a consumer added
    to a running system handles what happens from now on (replay older events by hand if needed)."""
    names = list(names if names is not None else _registry)
    existing = set(ConsumerProgress.objects.filter(name__in=names).values_list("name", flat=True))
    missing = [n for n in names if n not in existing]
    if missing:
        start = horizon()
        ConsumerProgress.objects.bulk_create(
            [ConsumerProgress(name=n, lo=start) for n in missing], ignore_conflicts=True
        )


def progress_skip_to_now() -> None:
    """Every consumer starts reading after what is in the log now: for history loaded in bulk (the demo's
    past orders, an import of old orders), which is not news to act on. Call it right after loading, while
    nothing else writes."""
    ConsumerProgress.objects.update(lo=horizon(), hi=None, after_id=0)
    progress_ensure()


def _max_attempts() -> int:
    return getattr(settings, "EVENTS_MAX_ATTEMPTS", 6)


def _backoff(attempts: int) -> timedelta:
    base = getattr(settings, "EVENTS_RETRY_BASE_SECONDS", 2)
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


def consume(name: str, *, limit: int = 200) -> int:
    """Handle the next events of consumer ``name``; the number handled (or parked). Safe to call from
    several workers at once: the progress row is taken with SKIP LOCKED, so one of them works."""
    return consume_group([name], limit=limit)[0]


def consume_group(names: list[str], *, limit: int = 200) -> tuple[int, bool]:
    """Handle the next events of several consumers (those a queue's message names, a sweep's round):
    ``(events handled or parked, whether a page was full)``.

    The bookkeeping is shared: one read of their progress rows (with, for each, whether an order of its
    is held behind a parked event, and the horizon), one read of the events of all their windows (``limit``
    rows, cut by id), the parked orders read only when a consumer has some. Then **one transaction**
    (``_run_together``) locks and moves, in one statement, the progress rows of the consumers that had
    nothing to read, of those with events that lock no row (``locks=False``: they read and insert) and of
    at most one that may lock (an order, a counter): their handlers run in it, the one that may lock last,
    so its locks are held for its own work only. Each other consumer with events works **in its own
    transaction**, as before, so what one that locks holds is never held while another locks more. Events
    run without a savepoint each; if a handler raises (or a progress row was held or moved by another
    worker), that transaction is rolled back and each batch runs in its own, then again with a savepoint
    per event if its handler raises, so a failure is isolated, retried and parked exactly as it always
    was (nothing of the first run is kept: handlers only write rows and queue work after commit)."""
    if _in_test_transaction():
        return 0, False  # in a test's transaction the uncommitted events are handled by process_uncommitted
    group = [_registry[n] for n in dict.fromkeys(names)]
    missing = [c.name for c in group if c.name not in _ensured]
    if missing:
        progress_ensure(names=missing)
        _ensured.update(missing)
    # whether each has an order held behind a parked event, in the same statement (almost never: the
    # parked orders are then read only for those that do)
    open_failures = ConsumerFailure.objects.filter(
        consumer=OuterRef("name"),
        status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD],
        order_id__isnull=False,
    )
    progress = ConsumerProgress.objects.filter(name__in=[c.name for c in group]).annotate(
        holds=Exists(open_failures)
    )
    if connection.vendor == "postgresql":  # and the horizon, in the same statement (evaluated once)
        horizon_now = RawSQL(_HORIZON, [], output_field=BigIntegerField())  # noqa: S611 - a constant
        progress = progress.annotate(horizon=horizon_now)
    rows = {p.name: p for p in progress}
    for c in group:
        if c.name not in rows:
            _ensured.discard(c.name)  # e.g. the tables were flushed: made again on the next call
    now = timezone.now()
    windows = []  # (consumer, progress as read, hi)
    hi_now = None
    for c in group:
        p = rows.get(c.name)
        if p is None or (p.retry_at and p.retry_at > now):
            continue
        if p.hi is None and hi_now is None:
            hi_now = getattr(p, "horizon", None) or horizon()
        hi = p.hi if p.hi is not None else hi_now
        if hi > p.lo:
            windows.append((c, p, hi))
    if not windows:
        return 0, False
    key = _key()
    if key == "xid":  # one statement text whatever the windows (_PAGE_IDS)
        spec = [{"lo": p.lo, "hi": hi, "after": p.after_id, "codes": list(c.codes)} for c, p, hi in windows]
        window_q = RawSQL(_PAGE_IDS, [json.dumps(spec), limit], output_field=BooleanField())  # noqa: S611
    else:
        window_q = Q()
        for c, p, hi in windows:
            window_q |= Q(**{f"{key}__gte": p.lo, f"{key}__lt": hi}, id__gt=p.after_id, code__in=c.codes)
    page = list(DomainEvent.objects.filter(window_q).select_related("actor").order_by("id")[:limit])
    full = len(page) >= limit
    cut = page[-1].pk if full else None
    held: dict[str, set[int]] = {}
    holding = [c.name for c, p, _hi in windows if c.ordered and p.holds]
    if holding and any(e.order_id is not None for e in page):
        for name, order_id in ConsumerFailure.objects.filter(
            consumer__in=holding,
            status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD],
            order_id__isnull=False,
        ).values_list("consumer", "order_id"):
            held.setdefault(name, set()).add(order_id)
    idle, batches = [], []
    for c, p, hi in windows:
        mine = [
            e
            for e in page
            if e.code in c.codes
            and p.lo <= getattr(e, key) < hi
            and e.pk > p.after_id
            and (c.accepts is None or c.accepts(e))
        ]
        if not mine and not full:
            idle.append((c, p, hi))
            continue
        batches.append(_Batch(c, p, hi, mine, cut, held.get(c.name, set()), limit))
    # the consumers that lock nothing, and the first that does (last: its locks are held for its own work
    # only), in one transaction with the idle ones' move; the rest each in its own, as before
    lockers = [b for b in batches if b.c.locks]
    together = [b for b in batches if not b.c.locks] + lockers[:1]
    handled = _run_together(together, idle) if together or idle else 0
    if handled is None:  # a row held or moved by another worker, or a handler raised: each on its own
        handled, alone = 0, batches
    else:
        alone, idle = lockers[1:], []
    for batch in alone:
        try:
            handled += batch.run(careful=False)
        except _Redo:
            handled += batch.run(careful=True)
    if idle:
        _advance_idle(idle)
    return handled, full


class _Redo(Exception):  # noqa: N818 - not an error: the batch runs again with a savepoint per event
    pass


@dataclass
class _Batch:
    """One consumer's events of a page, handled in one transaction."""

    c: Consumer
    read: ConsumerProgress  # its progress row as the page was read
    hi: int
    events: list[DomainEvent]
    cut: int | None  # the page was full: its last id (every event of the window up to it is in ``events``)
    held: set[int]
    limit: int

    def run(self, *, careful: bool) -> int:
        c = self.c
        with transaction.atomic():
            if not careful and self._move_first():
                # the progress row locked and moved to where the batch ends, in one statement: every event
                # handled (a held order's parked), or a handler raised and this transaction is rolled back
                self.handle()
                return len(self.events)
            locked = ConsumerProgress.objects.select_for_update(skip_locked=True)
            progress = locked.filter(name=c.name).first()
            if progress is None:
                return 0  # another worker is reading for this consumer
            now = timezone.now()
            if progress.retry_at and progress.retry_at > now:
                return 0
            events, hi, cut, held = self.events, self.hi, self.cut, set(self.held)
            read = self.read
            if (progress.lo, progress.hi, progress.after_id) != (read.lo, read.hi, read.after_id):
                # another worker moved it since the page was read: read this consumer's own page, as before
                key = _key()
                hi = progress.hi if progress.hi is not None else horizon()
                if hi <= progress.lo:
                    return 0
                events = list(
                    DomainEvent.objects.filter(
                        **{f"{key}__gte": progress.lo, f"{key}__lt": hi},
                        id__gt=progress.after_id,
                        code__in=c.codes,
                    )
                    .select_related("actor")
                    .order_by("id")[: self.limit]
                )
                cut = events[-1].pk if len(events) >= self.limit else None
                held = _held_orders(c) if c.ordered and events else set()
            handled = 0
            stopped = False
            for event in events:
                if c.ordered and event.order_id is not None and event.order_id in held:
                    _park(c, event, status=ConsumerFailure.Status.HELD, attempts=0, error="")
                else:
                    if not careful:
                        try:
                            c.handler(event)
                        except Exception as exc:
                            raise _Redo from exc  # rolls this transaction back: again, in savepoints
                        error = None
                    else:
                        error, permanent = _run(c, event)
                    if error is not None:
                        attempts = progress.attempts + 1
                        if permanent or attempts >= _max_attempts():
                            _park(
                                c, event, status=ConsumerFailure.Status.PARKED, attempts=attempts, error=error
                            )
                            if event.order_id is not None:
                                held.add(event.order_id)
                        else:
                            progress.attempts = attempts
                            progress.retry_at = now + _backoff(attempts)
                            progress.last_error = error[-4000:]
                            stopped = True
                            break
                progress.after_id = event.pk
                progress.attempts = 0
                progress.retry_at = None
                progress.processed += 1
                progress.last_event_at = event.created_at
                handled += 1
            if stopped:
                # the retry reads this same window again, from the event that failed: a wider one (a later
                # horizon) from ``after_id`` on would skip an event of a transaction that was still running
                # when this window was read, written with a lower id, committed since (the next window's)
                progress.hi = hi
            elif cut is None:
                progress.lo, progress.hi, progress.after_id = hi, None, 0
            else:
                progress.hi = hi
                progress.after_id = max(progress.after_id, cut)
            progress.save()
        return handled

    def handle(self) -> None:
        """Every event of the batch through the handler, in the caller's transaction and without savepoints
        (a held order's parked); a handler that raises raises ``_Redo``: the caller's transaction is rolled
        back and the batch runs again with a savepoint per event."""
        c = self.c
        for event in self.events:
            if c.ordered and event.order_id is not None and event.order_id in self.held:
                _park(c, event, status=ConsumerFailure.Status.HELD, attempts=0, error="")
                continue
            try:
                c.handler(event)
            except Exception as exc:
                raise _Redo from exc  # rolls the transaction back: again, in savepoints

    def as_read(self) -> Q:
        """The consumer's progress row as the page was read."""
        return _as_read(self.c, self.read)

    def moved(self) -> dict:
        """Where the progress row stands once every event of the batch is handled, as the loop of ``run``
        leaves it after its last event."""
        read, events, hi, cut = self.read, self.events, self.hi, self.cut
        last = events[-1].pk if events else read.after_id
        fields: dict = (
            {"lo": hi, "hi": None, "after_id": 0} if cut is None else {"hi": hi, "after_id": max(last, cut)}
        )
        if events:
            fields.update(
                attempts=0,
                retry_at=None,
                processed=F("processed") + len(events),
                last_event_at=events[-1].created_at,
            )
        return fields

    def _move_first(self) -> bool:
        """Lock the consumer's progress row (``SKIP LOCKED``) and write where it stands once every event of
        the batch is handled, in one ``UPDATE``, provided the row is still as the page was read and not
        waiting for a retry (instead of a locking read, then a write after the handlers). False, nothing
        written, when another worker holds the row or moved it, or it waits: ``run`` then takes it as it
        always did (a locking read, the page read again if it moved)."""
        now = timezone.now()
        free = _free(self.as_read(), now)
        return ConsumerProgress.objects.filter(name__in=free).update(**self.moved(), updated_at=now) == 1


def _as_read(c: Consumer, p: ConsumerProgress) -> Q:
    """Consumer ``c``'s progress row still where ``p`` read it (the condition of every move that follows a
    page read: a row another worker moved since is left alone)."""
    same_hi = Q(hi=p.hi) if p.hi is not None else Q(hi__isnull=True)
    return Q(same_hi, name=c.name, lo=p.lo, after_id=p.after_id)


def _free(cond: Q, now) -> QuerySet:
    """The names of the progress rows matching ``cond`` that no worker holds and that wait for no retry,
    locked (``SKIP LOCKED``): the subquery of a move's ``UPDATE … WHERE name IN (…)``."""
    return (
        ConsumerProgress.objects.filter(cond)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .select_for_update(skip_locked=True)
        .values("name")
    )


_MOVED_FIELDS = ("lo", "hi", "after_id", "attempts", "retry_at", "processed", "last_event_at")


def _run_together(batches: list[_Batch], idle: list[tuple[Consumer, ConsumerProgress, int]]) -> int | None:
    """Several consumers' batches, and the move of those that had nothing to read, in **one transaction**:
    their progress rows locked (``SKIP LOCKED``) and moved in one ``UPDATE`` first, on condition that each
    is as the page was read and not waiting for a retry, then each batch's handlers, without savepoints.
    The events handled, or None with nothing kept (the transaction rolled back) when a row was held or
    moved by another worker, or a handler raised: the caller then runs each batch in its own transaction,
    as before, and a failure is isolated there. ``consume_group`` gives it the consumers that lock no row
    in the lock order, and at most one that does, last."""
    now = timezone.now()
    cond = Q()
    values: dict[str, dict] = {}
    for b in batches:
        cond |= b.as_read()
        values[b.c.name] = b.moved()
    for c, p, hi in idle:
        cond |= _as_read(c, p)
        values[c.name] = {"lo": hi, "hi": None, "after_id": 0}
    fields: dict = {}
    for name in _MOVED_FIELDS:
        given = [(n, v[name]) for n, v in values.items() if name in v]
        if not given:
            continue
        plain = given[0][1]
        if (
            len(given) == len(values)
            and not hasattr(plain, "resolve_expression")
            and all(v == plain for _n, v in given)
        ):
            fields[name] = plain  # the same value for every row (e.g. ``hi`` emptied): no CASE
            continue
        fields[name] = Case(
            *[When(name=n, then=v if hasattr(v, "resolve_expression") else Value(v)) for n, v in given],
            default=F(name),
            output_field=ConsumerProgress._meta.get_field(name),
        )
    try:
        with transaction.atomic():
            free = _free(cond, now)
            if ConsumerProgress.objects.filter(name__in=free).update(**fields, updated_at=now) != len(values):
                raise _Redo  # another worker holds or moved one of them
            for b in batches:
                b.handle()
    except _Redo:
        return None
    return sum(len(b.events) for b in batches)


def _advance_idle(idle: list[tuple[Consumer, ConsumerProgress, int]]) -> None:
    """Move the consumers that had nothing in their window to its end, in one statement. A row another
    worker holds is skipped (it moves it itself), and a row that changed since it was read is left alone
    (its condition no longer holds): what was read is still true of the log, whose rows below ``hi`` are
    all committed."""
    cond = Q()
    for c, p, _hi in idle:
        cond |= _as_read(c, p)
    with transaction.atomic():
        free = ConsumerProgress.objects.filter(cond).select_for_update(skip_locked=True).values("name")
        names = {c.name: hi for c, _p, hi in idle}
        ConsumerProgress.objects.filter(name__in=free).update(
            lo=Case(*[When(name=n, then=Value(h)) for n, h in names.items()], output_field=BigIntegerField()),
            hi=None,
            after_id=0,
            updated_at=timezone.now(),
        )


def _run(c: Consumer, event: DomainEvent) -> tuple[str | None, bool]:
    """Run the handler in a savepoint. ``(None, _)`` on success, else the error and whether it is final."""
    try:
        with transaction.atomic():
            c.handler(event)
    except DomainError as exc:
        logger.warning("event log: %s refused event #%s (%s): %s", c.name, event.pk, event.code, exc)
        return f"{exc.__class__.__name__}: {exc.message}", True
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then parked for a manager
        if getattr(settings, "EVENTS_RAISE", False):
            raise
        logger.exception("event log: %s failed on event #%s (%s)", c.name, event.pk, event.code)
        return "".join(traceback.format_exception_only(exc)).strip() + "\n" + traceback.format_exc(), False
    return None, False


def _park(c: Consumer, event: DomainEvent, *, status: str, attempts: int, error: str) -> None:
    ConsumerFailure.objects.update_or_create(
        consumer=c.name,
        event=event,
        defaults={"order_id": event.order_id, "status": status, "attempts": attempts, "error": error},
    )


def _held_orders(c: Consumer) -> set[int]:
    return set(
        ConsumerFailure.objects.filter(
            consumer=c.name,
            status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD],
            order_id__isnull=False,
        ).values_list("order_id", flat=True)
    )


# --- Parked events ---------------------------------------------------------------------------------------


class ReplayFailed(DomainError):
    code = "replay_failed"
    status_code = 409


@transaction.atomic
def failure_replay(*, failure: ConsumerFailure, actor=None) -> int:
    """Run a parked event again (and then the events of its order held behind it, in order). Raises
    ``ReplayFailed`` with the handler's error if it fails again (the event stays parked)."""
    failure = ConsumerFailure.objects.select_for_update().get(pk=failure.pk)
    if failure.status not in (ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD):
        return 0
    c = _registry.get(failure.consumer)
    if c is None:
        raise ReplayFailed(f"No consumer is named {failure.consumer}.")
    queue = [failure]
    if failure.order_id is not None:
        queue += list(
            ConsumerFailure.objects.select_for_update()
            .filter(
                consumer=failure.consumer,
                order_id=failure.order_id,
                status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD],
                event_id__gt=failure.event_id,
            )
            .order_by("event_id")
        )
    replayed = 0
    for item in queue:
        event = DomainEvent.objects.select_related("actor").get(pk=item.event_id)
        error, _permanent = _run(c, event)
        if error is not None:
            item.attempts += 1
            item.error = error
            item.status = ConsumerFailure.Status.PARKED
            item.save(update_fields=["attempts", "error", "status"])
            if item is failure:
                raise ReplayFailed(error.splitlines()[0], details={"event": event.pk})
            break
        item.status = ConsumerFailure.Status.REPLAYED
        item.resolved_at = timezone.now()
        item.resolved_by = actor if getattr(actor, "pk", None) else None
        item.save(update_fields=["status", "resolved_at", "resolved_by"])
        replayed += 1
    return replayed


@transaction.atomic
def failure_discard(*, failure: ConsumerFailure, actor=None) -> ConsumerFailure:
    """Give up on a parked event (what it should have done will be done by hand); the events held behind
    it are released and replayed."""
    failure = ConsumerFailure.objects.select_for_update().get(pk=failure.pk)
    if failure.status in (ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD):
        failure.status = ConsumerFailure.Status.DISCARDED
        failure.resolved_at = timezone.now()
        failure.resolved_by = actor if getattr(actor, "pk", None) else None
        failure.save(update_fields=["status", "resolved_at", "resolved_by"])
        following = (
            ConsumerFailure.objects.filter(
                consumer=failure.consumer,
                order_id=failure.order_id,
                status=ConsumerFailure.Status.HELD,
                event_id__gt=failure.event_id,
            )
            .order_by("event_id")
            .first()
            if failure.order_id is not None
            else None
        )
        if following is not None:
            try:
                with transaction.atomic():
                    failure_replay(failure=following, actor=actor)
            except ReplayFailed:
                pass  # it stays parked with its error
    return failure


# --- Inside a test's transaction -------------------------------------------------------------------------
# pytest-django wraps a test in a transaction that never commits, so after-commit callbacks never run. The
# test suite (tests/conftest.py) calls ``process_uncommitted`` when the outermost service transaction of a
# test ends, which is when it would have committed: the events it wrote are handled then, in order, by
# every consumer, exactly as a commit would have had them handled.


def _in_test_transaction() -> bool:
    blocks = connection.atomic_blocks if connection.in_atomic_block else []
    return bool(blocks) and getattr(blocks[0], "_from_testcase", False)


def _service_block_open() -> bool:
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def process_uncommitted() -> int:
    """Handle, in order, the events written in the test's transaction since the last call."""
    pending = getattr(connection, "_eventlog_uncommitted", None)
    if not pending or getattr(_local, "consuming", False):
        return 0
    _local.consuming = True
    handled = 0
    try:
        while pending:
            ids = sorted(pending)
            pending.clear()
            events = {e.pk: e for e in DomainEvent.objects.filter(pk__in=ids).select_related("actor")}
            for event_id in ids:
                event = events.get(event_id)
                if event is None:
                    continue  # rolled back with its savepoint
                for c in list(_registry.values()):
                    if event.code not in c.codes:
                        continue
                    if c.ordered and event.order_id is not None and event.order_id in _held_orders(c):
                        _park(c, event, status=ConsumerFailure.Status.HELD, attempts=0, error="")
                        continue
                    error, permanent = _run(c, event)
                    if error is not None:
                        _park(c, event, status=ConsumerFailure.Status.PARKED, attempts=1, error=error)
                    handled += 1
    finally:
        _local.consuming = False
    return handled


# --- For the managers' page ------------------------------------------------------------------------------


@dataclass
class ConsumerState:
    name: str
    codes: list[str]
    progress: ConsumerProgress | None
    pending: int  # events of its codes written after its place in the log
    oldest: object  # when the oldest of them was written (None when none waits)
    parked: int


def _waiting(c: Consumer, p: ConsumerProgress) -> tuple[int, object]:
    from django.db.models import Count, Min, Q

    key = _key()
    # What the consumer will still read: the rest of its window (``after_id`` on) and everything after it.
    # Not "every event from ``lo`` on": in the middle of a window that counted again what was handled.
    if p.hi is None:
        ahead = Q(**{f"{key}__gte": p.lo}, id__gt=p.after_id)
    else:
        ahead = Q(**{f"{key}__gte": p.lo, f"{key}__lt": p.hi}, id__gt=p.after_id) | Q(**{f"{key}__gte": p.hi})
    row = DomainEvent.objects.filter(ahead, code__in=c.codes).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    return row["n"], row["oldest"]


def consumers_state() -> list[ConsumerState]:
    """Every consumer with its progress, how many events wait for it (and since when), how many are
    parked."""
    from django.db.models import Count

    progress = {p.name: p for p in ConsumerProgress.objects.all()}
    parked = dict(
        ConsumerFailure.objects.filter(
            status__in=[ConsumerFailure.Status.PARKED, ConsumerFailure.Status.HELD]
        )
        .values_list("consumer")
        .annotate(n=Count("id"))
    )
    states = []
    for name, c in sorted(_registry.items()):
        p = progress.get(name)
        pending, oldest = _waiting(c, p) if p is not None else (0, None)
        states.append(ConsumerState(name, sorted(c.codes), p, pending, oldest, parked.get(name, 0)))
    return states


def backlog() -> dict:
    """For ``/healthz``: per consumer, the events waiting and the age of the oldest; parked events."""
    now = timezone.now()
    consumers = {
        state.name: {
            "waiting": state.pending,
            "oldest_waiting_seconds": int((now - state.oldest).total_seconds()) if state.oldest else 0,
            "parked": state.parked,
        }
        for state in consumers_state()
    }
    return {
        "waiting": sum(c["waiting"] for c in consumers.values()),
        "oldest_waiting_seconds": max((c["oldest_waiting_seconds"] for c in consumers.values()), default=0),
        "parked": sum(c["parked"] for c in consumers.values()),
        "consumers": consumers,
    }
