"""Queued jobs that are never lost and never done twice, whatever happens to Redis or to a worker.

Redis only carries messages; the truth about a job is a row in PostgreSQL (``common.models.QueuedJob``'s
fields on the row the job is about: the invoice to render, the label to make...). The pattern:

1. **Ask** (inside the transaction that writes the row): set ``job_due_at=jobs.due()`` on the row and call
   ``jobs.enqueue_on_commit(task, row.pk)``. Publishing happens after commit and never raises: a broker
   that is down is logged, and the row stays due.
2. **Do** (the Celery task): ``with jobs.claim(KIND, pk) as job:``; ``job`` is None when the work is done,
   given up, or held by another worker (a redelivered message, a duplicate from the sweep): do nothing.
   Otherwise the worker holds a lease until ``job.until``; long work calls ``job.renew()`` as it goes.
   Leaving the block normally marks the job done; an exception releases it for a retry and is re-raised
   (Celery's own retry, or the sweep, runs it again).
3. **Recover** (beat, ``common.jobs_sweep`` every minute): every registered kind's rows that are due and not
   held are queued again: a message lost with the broker, or the job of a worker killed mid-task once its
   lease has expired (minutes, not the broker's one-hour visibility timeout). A row whose work is finished
   by other means is simply cleared; one that failed ``max_attempts`` times is given up (``on_give_up``).

Each app declares its kinds with ``register(JobKind(...))`` in its ``AppConfig.ready``. ``lease(name)`` is a
named lease for "one at a time" work that has no row of its own (e.g. a carrier's relay-point refresh).
"""

import functools
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, IntegerField, Min, Q, Value, When
from django.utils import timezone

logger = logging.getLogger(__name__)


def _seconds(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


# --- Publishing ------------------------------------------------------------------------------------------

_broker_down_until = 0.0


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError

    errors: list[type[BaseException]] = [OperationalError, OSError, TimeoutError]
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def enqueue(task, *args, **options) -> bool:
    """Publish ``task(*args)`` now. Never raises into the caller: a broker that is down is logged and
    False is returned (the row the job is about stays due, and the sweep queues it later). After a
    failure, publishing is not tried again for ``BROKER_RETRY_AFTER_SECONDS``, so a dead broker costs a
    request nothing. ``options`` go to ``apply_async`` (``countdown``, ``queue``...).

    With tasks run eagerly (no broker: ``make run`` on SQLite, tests), the task runs here; its errors are
    logged, as a worker would, not raised into the request that queued it."""
    global _broker_down_until
    from celery import current_app

    eager = current_app.conf.task_always_eager
    name = getattr(task, "name", str(task))
    if not eager and _broker_down_until > time.monotonic():
        logger.warning("Broker down a moment ago: %s%s left to the sweep", name, args)
        return False
    try:
        task.apply_async(args=args, retry=False, **options)
    except _broker_errors() as exc:
        if eager:
            logger.exception("Task %s%s failed", name, args)
            return False
        _broker_down_until = time.monotonic() + _seconds("BROKER_RETRY_AFTER_SECONDS", 5)
        logger.warning("Broker unavailable, %s%s not queued (the sweep will): %s", name, args, exc)
        return False
    except Exception:
        if not eager:
            raise
        logger.exception("Task %s%s failed", name, args)
        return False
    _broker_down_until = 0.0
    return True


def enqueue_on_commit(task, *args, **options) -> None:
    """``enqueue`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(functools.partial(enqueue, task, *args, **options))


def due(seconds: float | None = None) -> datetime:
    """The value of ``job_due_at`` for a job just asked for: the sweep leaves it to the message published
    on commit for ``JOBS_FIRST_WAIT_SECONDS`` (a minute), then queues it again if it is still not done."""
    wait = _seconds("JOBS_FIRST_WAIT_SECONDS", 60) if seconds is None else seconds
    return timezone.now() + timedelta(seconds=wait)


def restart_fields(seconds: float | None = None) -> dict:
    """Fields to write on a job asked for again (staff's "try again"): due soon, attempts from zero."""
    return {"job_due_at": due(seconds), "job_attempts": 0}


# --- Kinds -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    """One kind of job: the model whose rows carry ``QueuedJob``'s fields, and the task that does it.

    ``pending`` selects the rows whose work is not finished (the task's claim and the sweep both apply it);
    ``arg`` is the field given to the task (its only argument); ``lease_seconds`` is how long a worker holds
    a job before another may take it over (default ``JOBS_LEASE_SECONDS``): longer than the task's time
    limit, or renewed as the work goes; ``on_give_up(ids)`` marks rows failed after ``max_attempts``."""

    name: str
    model: str  # "app_label.ModelName"
    task: str  # the Celery task's name
    pending: Q = Q()
    arg: str = "pk"
    lease_seconds: float | None = None
    max_attempts: int = 10
    on_give_up: Callable[[list[int]], None] | None = None

    @property
    def model_class(self):
        return apps.get_model(self.model)

    @property
    def lease(self) -> timedelta:
        seconds = self.lease_seconds if self.lease_seconds is not None else None
        if seconds is None:
            seconds = _seconds("JOBS_LEASE_SECONDS", 180)
        return timedelta(seconds=seconds)

    def rows(self):
        return self.model_class._default_manager.all()


_registry: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    _registry[kind.name] = kind
    return kind


def registered() -> list[JobKind]:
    return list(_registry.values())


# --- Claiming --------------------------------------------------------------------------------------------


class Claim:
    """A job held by this worker until ``until``."""

    def __init__(self, kind: JobKind, pk, until: datetime):
        self.kind, self.pk, self.until = kind, pk, until
        self.attempt = 0

    def _fenced(self):
        return self.kind.rows().filter(pk=self.pk, job_lease_until=self.until)

    def renew(self) -> bool:
        """Extend the lease (long work calls it as it goes; it writes only once a third of the lease has
        passed). False if the lease was lost (it expired and another worker took the job over)."""
        now = timezone.now()
        if self.until - now > self.kind.lease * 2 / 3:
            return True
        until = now + self.kind.lease
        renewed = self._fenced().update(
            job_lease_until=until,
            job_due_at=Case(When(job_due_at=self.until, then=until), default=F("job_due_at")),
        )
        if renewed:
            self.until = until
        return bool(renewed)

    def done_fields(self) -> dict:
        """The fields that mark the job done, for the work to write with its own last UPDATE of the row
        (one statement less); leaving the ``claim`` block then writes nothing more. Fenced by the lease as
        ``_finish`` is: a job another worker took over stays theirs."""
        self._done_written = True
        held = Q(job_lease_until=self.until)
        return {
            "job_lease_until": Case(When(held, then=None), default=F("job_lease_until")),
            "job_due_at": Case(When(held & Q(job_due_at=self.until), then=None), default=F("job_due_at")),
            "job_attempts": Case(
                When(held, then=Value(0)), default=F("job_attempts"), output_field=IntegerField()
            ),
        }

    def done_not_written(self) -> None:
        """The UPDATE that carried ``done_fields`` matched no row (its own condition failed): leaving the
        ``claim`` block marks the job done itself."""
        self._done_written = False

    def _finish(self, *, done: bool) -> None:
        if done and getattr(self, "_done_written", False):
            return
        if done:
            # Done: nothing due any more, unless the work was asked for again meanwhile (a new due time).
            self._fenced().update(
                job_lease_until=None,
                job_due_at=Case(When(job_due_at=self.until, then=None), default=F("job_due_at")),
                job_attempts=0,  # a job asked for again later (a stock push) starts its count afresh
            )
        else:
            # Failed: due again once a lease has passed (Celery's retry, if any, usually comes first).
            self._fenced().update(job_lease_until=None, job_due_at=timezone.now() + self.kind.lease)


@contextmanager
def claim(kind: JobKind, pk) -> Iterator[Claim | None]:
    """Take the job for this worker (see the module's docstring). Yields None, changing nothing, when the
    row is not pending, is held by another worker, or has used its attempts."""
    now = timezone.now()
    until = now + kind.lease
    taken = (
        kind.rows()
        .filter(kind.pending, pk=pk, job_attempts__lt=kind.max_attempts)
        .filter(Q(job_lease_until__isnull=True) | Q(job_lease_until__lte=now))
        .update(job_lease_until=until, job_due_at=until, job_attempts=F("job_attempts") + 1)
    )
    if not taken:
        yield None
        return
    job = Claim(kind, pk, until)
    try:
        yield job
    except BaseException:
        job._finish(done=False)
        raise
    job._finish(done=True)


def release(kind: JobKind, pk) -> int:
    """Forget a job without doing it (the work was cancelled): nothing due, no lease."""
    return kind.rows().filter(pk=pk).update(job_due_at=None, job_lease_until=None)


# --- Recovery --------------------------------------------------------------------------------------------


def sweep(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Queue again, for every registered kind, the rows that are due and not held (beat, every minute).
    Rows whose work is finished are cleared; rows past ``max_attempts`` are given up. Each queued row is
    due again a lease later, so the next sweep does not queue it a second time while it waits in the
    broker. Returns how many rows of each kind were queued."""
    from celery import current_app

    queued: dict[str, int] = {}
    now = now or timezone.now()
    for kind in registered():
        rows = kind.rows()
        with transaction.atomic():
            due_ids = list(
                rows.select_for_update(skip_locked=True)
                .filter(job_due_at__lte=now)
                .filter(Q(job_lease_until__isnull=True) | Q(job_lease_until__lte=now))
                .order_by("job_due_at", "pk")
                .values_list("pk", flat=True)[:limit]
            )
            if not due_ids:
                queued[kind.name] = 0
                continue
            pending = dict(rows.filter(kind.pending, pk__in=due_ids).values_list("pk", "job_attempts"))
            finished = [pk for pk in due_ids if pk not in pending]
            exhausted = [pk for pk, attempts in pending.items() if attempts >= kind.max_attempts]
            todo = [pk for pk in pending if pk not in exhausted]
            if finished or exhausted:
                rows.filter(pk__in=finished + exhausted).update(job_due_at=None, job_lease_until=None)
            if exhausted:
                logger.error("%s: given up after %s attempts: %s", kind.name, kind.max_attempts, exhausted)
                if kind.on_give_up is not None:
                    kind.on_give_up(exhausted)
            rows.filter(pk__in=todo).update(job_due_at=now + kind.lease)
            args = dict(rows.filter(pk__in=todo).values_list("pk", kind.arg)) if kind.arg != "pk" else None
        task = _task(current_app, kind.task)
        failed = [pk for pk in todo if not enqueue(task, args[pk] if args else pk)]
        if failed:  # the broker is down: due at once again, the next sweep tries
            rows.filter(pk__in=failed).update(job_due_at=now)
        queued[kind.name] = len(todo) - len(failed)
        if todo:
            logger.info("%s: queued again %s job(s)", kind.name, queued[kind.name])
    return queued


def _task(app, name: str):
    if name not in app.tasks:  # outside a worker, the apps' task modules may not be imported yet
        app.loader.import_default_modules()
    return app.tasks[name]


def backlog(*, now: datetime | None = None) -> dict[str, dict]:
    """Per kind, for /healthz: jobs to do (``waiting``), those past their due time (``overdue``: the sweep
    should have queued them; they pile up while the broker, the workers or beat are down) and the age in
    seconds of the oldest overdue one."""
    now = now or timezone.now()
    result = {}
    for kind in registered():
        stats = (
            kind.rows()
            .filter(job_due_at__isnull=False)
            .aggregate(
                waiting=Count("pk"),
                overdue=Count("pk", filter=Q(job_due_at__lte=now)),
                oldest=Min("job_due_at"),
            )
        )
        oldest = stats["oldest"]
        result[kind.name] = {
            "waiting": stats["waiting"],
            "overdue": stats["overdue"],
            "oldest_overdue_seconds": int((now - oldest).total_seconds()) if stats["overdue"] else 0,
        }
    return result


# --- Named leases ----------------------------------------------------------------------------------------


@contextmanager
def lease(name: str, *, seconds: float) -> Iterator[bool]:
    """Hold the lease ``name`` for at most ``seconds`` (a row in ``common.Lease``): yields True if this
    caller holds it, False if someone else does. Released on exit; a holder that dies frees it by expiry."""
    from .models import Lease

    token = secrets.token_hex(16)
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    held = bool(Lease.objects.filter(name=name, expires_at__lte=now).update(holder=token, expires_at=until))
    if not held:
        try:
            with transaction.atomic():
                Lease.objects.create(name=name, holder=token, expires_at=until)
            held = True
        except IntegrityError:
            held = False
    try:
        yield held
    finally:
        if held:
            Lease.objects.filter(name=name, holder=token).delete()
