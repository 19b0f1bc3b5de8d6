"""``GET /healthz``: what works and what is degraded, for a load balancer and for people.

- **200** while requests can be served: ``"status": "ok"``, or ``"degraded"`` when the cache or the broker
  is down, or queued jobs are overdue (the broker, the workers or beat are not running). Pages, the API and
  sign-in work without Redis; jobs wait in the database and are queued again once the broker is back.
- **503** when the database is down (``"status": "down"``): nothing can be served.

The body (JSON): ``database``, ``cache`` and ``broker`` as ``{"ok", "detail"}``, and ``jobs``: per kind of
queued job (common/jobs.py) and for the notification outbox, how many are ``waiting``, how many are
``overdue`` and the age in seconds of the oldest overdue one; ``jobs.oldest_overdue_seconds`` is the
largest; ``events``: per consumer of the domain event log (common/eventlog.py), the events ``waiting`` and
the age of the oldest, and how many are ``parked`` after their retries. Degraded also when an event has
waited longer than ``JOBS_OVERDUE_WARNING_SECONDS`` (workers or beat are not running) or one is parked.
``replica`` (when ``DATABASE_REPLICA_URL`` is set, common/replica.py): whether the standby answers, its
replay lag in seconds and whether reads use it; degraded while it is down or lags more than
``REPLICA_MAX_LAG_SECONDS`` (reads then go to the primary, so nothing is served stale).
Each check is bounded by short timeouts, so a dead Redis answers in milliseconds.
"""

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common import eventlog, jobs, replica
from common.cache import cache_status


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return False, exc.__class__.__name__
    return True, connection.vendor


def _broker_ok() -> tuple[bool, str]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True, "eager (tasks run in process)"
    from oms.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
            conn.default_channel  # noqa: B018 - opens the channel
    except Exception as exc:  # noqa: BLE001
        return False, exc.__class__.__name__
    return True, "redis"


def _jobs() -> dict:
    from customers.models import Notification

    now = timezone.now()
    kinds = jobs.backlog(now=now)
    outbox = Notification.objects.filter(
        status__in=[Notification.Status.PENDING, Notification.Status.SENDING]
    ).aggregate(
        waiting=Count("pk"),
        overdue=Count("pk", filter=Q(next_attempt_at__lte=now)),
        oldest=Min("next_attempt_at", filter=Q(next_attempt_at__lte=now)),
    )
    kinds["customers.notification"] = {
        "waiting": outbox["waiting"],
        "overdue": outbox["overdue"],
        "oldest_overdue_seconds": int((now - outbox["oldest"]).total_seconds()) if outbox["oldest"] else 0,
    }
    return {
        "overdue": sum(kind["overdue"] for kind in kinds.values()),
        "oldest_overdue_seconds": max((kind["oldest_overdue_seconds"] for kind in kinds.values()), default=0),
        "kinds": kinds,
    }


@never_cache
@require_GET
def healthz(request):
    db_ok, db_detail = _database_ok()
    cache_ok, cache_detail = cache_status()
    broker_ok, broker_detail = _broker_ok()
    body = {
        "status": "ok",
        "database": {"ok": db_ok, "detail": db_detail},
        "cache": {"ok": cache_ok, "detail": cache_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    if not db_ok:
        body["status"] = "down"
        return JsonResponse(body, status=503)
    body["jobs"] = _jobs()
    body["events"] = eventlog.backlog()
    replica_ok = True
    if replica.configured():
        status = replica.replica_status(fresh=True)
        body["replica"] = status.as_dict()
        replica_ok = status.usable
    late = (
        max(body["jobs"]["oldest_overdue_seconds"], body["events"]["oldest_waiting_seconds"])
        > settings.JOBS_OVERDUE_WARNING_SECONDS
    )
    if not (cache_ok and broker_ok and replica_ok) or late or body["events"]["parked"]:
        body["status"] = "degraded"
    return JsonResponse(body, status=200)
