"""Reads from a PostgreSQL streaming replica, when one is configured (``DATABASE_REPLICA_URL``).

The primary stays the one source of truth: every write, every read inside a transaction and every read
that is not on the list goes there. Only the reads listed in ``REPLICA_READ_VIEWS`` (lists, reports,
exports, the portal's read pages, the availability API: GET requests that write nothing) and the jobs that
run inside ``replica_reads()`` read from the replica, and only when all of these hold:

- the replica answers and its replay lag is at most ``REPLICA_MAX_LAG_SECONDS`` (measured at most every
  ``REPLICA_CHECK_SECONDS`` per process; a lagging or unreachable replica is skipped, shown on /healthz);
- the reader has not written in the last ``REPLICA_PIN_SECONDS`` (read-your-writes): an unsafe request
  (POST, PUT, PATCH, DELETE) pins its browser with a short-lived cookie and its API key in the cache, so
  the next page or API read of the same user comes from the primary until the replica has caught up;
- nothing was written earlier in the same request or job, and no transaction is open on the primary.

``ReplicaRouter`` is the database router; ``ReplicaMiddleware`` decides per request; ``replica_status()``
measures the lag (used by the router's decision and by /healthz).
"""

import contextlib
import contextvars
import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections

from .cache import CACHE_ERRORS

REPLICA = "replica"
PRIMARY = "default"
PIN_COOKIE = "oms_primary_until"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class _Reads:
    replica: bool = False  # this request or job may read from the replica
    wrote: bool = False  # something was written: read it back from the primary
    sticky: bool = True  # a write sends the following reads to the primary


_reads: contextvars.ContextVar[_Reads | None] = contextvars.ContextVar("oms_replica_reads", default=None)


def configured() -> bool:
    return REPLICA in settings.DATABASES


# --- lag -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaStatus:
    configured: bool
    ok: bool  # reachable
    lag_seconds: float | None  # replay lag, None when unreachable
    usable: bool  # reachable and lag within REPLICA_MAX_LAG_SECONDS
    detail: str
    checked_at: float

    def as_dict(self) -> dict:
        return {
            "configured": self.configured,
            "ok": self.ok,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "max_lag_seconds": settings.REPLICA_MAX_LAG_SECONDS,
            "used": self.usable,
            "detail": self.detail,
        }


_status_lock = threading.Lock()
_status: dict[str, ReplicaStatus] = {}

# 0 when the replica has applied everything it received; otherwise the age of the last transaction it
# replayed. A standby cut off from the primary (no WAL received) or paused therefore ages, and is skipped
# once that age passes the limit.
LAG_SQL = (
    "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
    "AND NOT pg_is_wal_replay_paused() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 1e9) END"
)


def _measure() -> ReplicaStatus:
    now = time.monotonic()
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, lag = cursor.fetchone()
    except DatabaseError as exc:
        with contextlib.suppress(DatabaseError):
            connections[REPLICA].close()
        return ReplicaStatus(True, False, None, False, exc.__class__.__name__, now)
    lag = max(0.0, float(lag))
    usable = lag <= settings.REPLICA_MAX_LAG_SECONDS
    if not in_recovery:
        detail = "not a standby (replica URL points at a primary)"
    elif usable:
        detail = "streaming"
    else:
        detail = "lagging: reads go to the primary"
    return ReplicaStatus(True, True, lag, usable, detail, now)


def replica_status(*, fresh: bool = False) -> ReplicaStatus:
    """The replica's lag, measured at most every ``REPLICA_CHECK_SECONDS`` in this process."""
    if not configured():
        return ReplicaStatus(False, False, None, False, "not configured", time.monotonic())
    with _status_lock:
        last = _status.get(REPLICA)
        if not fresh and last and time.monotonic() - last.checked_at < settings.REPLICA_CHECK_SECONDS:
            return last
    status = _measure()
    with _status_lock:
        _status[REPLICA] = status
    return status


def forget_status() -> None:
    with _status_lock:
        _status.clear()


# --- the decision --------------------------------------------------------------------------------------


def caught_up_to(moment) -> bool:
    """Has the replica replayed everything the primary committed up to ``moment`` (an aware datetime)?"""
    status = replica_status()
    if not status.usable:
        return False
    if status.lag_seconds == 0:
        return True
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_last_xact_replay_timestamp() >= %s", [moment])
        return bool(cursor.fetchone()[0])


@contextlib.contextmanager
def replica_reads(*, caught_up_to_moment=None, sticky: bool = True):
    """Reads in this block may go to the replica (if it is usable, and has replayed the primary up to
    ``caught_up_to_moment`` when given: a job reading what was committed before it was queued). Writes and
    reads inside a transaction still go to the primary. ``sticky``: after the block's first write, reads go
    to the primary too (read-your-writes); a job whose writes are only progress counters can turn it off."""
    allowed = configured() and replica_status().usable
    if allowed and caught_up_to_moment is not None:
        try:
            allowed = caught_up_to(caught_up_to_moment)
        except DatabaseError:
            allowed = False
    state = _Reads(replica=allowed, sticky=sticky)
    token = _reads.set(state)
    try:
        yield state
    finally:
        _reads.reset(token)


class ReplicaRouter:
    """Django database router: the primary unless the current request or job reads from the replica."""

    def db_for_read(self, model, **hints):
        state = _reads.get()
        if state is None or not state.replica or (state.wrote and state.sticky):
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        return REPLICA

    def db_for_write(self, model, **hints):
        state = _reads.get()
        if state is not None:
            state.wrote = True
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


# --- per request: which views, and read-your-writes ------------------------------------------------------


def _api_identity(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    return "replica-pin:" + hashlib.sha256(header.encode()).hexdigest()[:32]


def pinned_to_primary(request) -> bool:
    """Has this browser or API key written recently?"""
    try:
        until = float(request.COOKIES.get(PIN_COOKIE, "0"))
    except ValueError:
        until = 0.0
    if until > time.time():
        return True
    identity = _api_identity(request)
    if identity is None:
        return False
    from django.core.cache import cache

    try:
        return bool(cache.get(identity))
    except CACHE_ERRORS:
        return True  # cannot tell: read your writes from the primary


def pin_to_primary(request, response) -> None:
    seconds = settings.REPLICA_PIN_SECONDS
    response.set_cookie(
        PIN_COOKIE,
        f"{time.time() + seconds:.3f}",
        max_age=seconds,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    identity = _api_identity(request)
    if identity is not None:
        from django.core.cache import cache

        with contextlib.suppress(*CACHE_ERRORS):
            cache.set(identity, 1, timeout=seconds)


class ReplicaMiddleware:
    """Turns replica reads on for the GET requests of ``REPLICA_READ_VIEWS`` (URL names) when the replica
    is usable and the reader has not just written; pins a writer to the primary for a few seconds."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.views = frozenset(settings.REPLICA_READ_VIEWS)

    def __call__(self, request):
        from .middleware import machine_request

        if not configured() or machine_request(request):  # a webhook reads the primary, pins nobody
            return self.get_response(request)
        state = _Reads()
        request._replica_reads = state
        token = _reads.set(state)
        try:
            response = self.get_response(request)
        finally:
            _reads.reset(token)
        if request.method not in SAFE_METHODS or state.wrote:
            pin_to_primary(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = getattr(request, "_replica_reads", None)
        if state is None or request.method not in ("GET", "HEAD"):
            return None
        match = request.resolver_match
        if match is None or match.view_name not in self.views:
            return None
        if state.wrote or pinned_to_primary(request):
            return None
        state.replica = replica_status().usable
        return None
