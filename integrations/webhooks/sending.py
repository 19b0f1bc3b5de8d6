"""Sending a delivery: the job of one ``WebhookDelivery`` row (``common.jobs``), run by the task
``integrations.webhook_deliver``.

- **At least once.** The row is claimed with a lease before the request; the outcome is written after the
  answer. A worker killed in between leaves the row claimed until its lease ends, then the sweep sends it
  again: the receiver may get the same delivery twice, with the same ``OMS-Delivery-Id`` (the documented
  at-least-once); never a different one, and never lost.
- **In order per order.** A delivery about an order waits while an earlier delivery of the same order to the
  same endpoint is not sent yet (pending or retrying); each success queues the next one at once.
- **Many per second.** A worker that has just sent its delivery takes up to ``WEBHOOK_BATCH_SIZE`` other
  due ones in the same run (``deliveries_drain``: one claim with ``SKIP LOCKED``, the same lease, the same
  rules: due, endpoint enabled, nothing earlier of the same order unsent) and sends them over the kept-alive
  connections, recording the successes in three statements for the whole batch; their own messages then
  find them done and cost one statement. A batch stops after a third of the lease, and a failing endpoint's
  other deliveries in it are left to their own messages.
- **Retries.** Anything but a 2xx (a timeout, a refused connection, a 5xx, a 4xx) is retried with
  exponential backoff (``services.retry_delay_seconds``) up to ``WEBHOOK_MAX_ATTEMPTS``, over more than a
  day; then the delivery has failed and the endpoint is disabled, its owner told. A 410 Gone is final at
  once: the receiver says the URL is gone, so the endpoint is disabled.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from common import jobs

from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from . import catalogue, services
from .addresses import UnsafeUrl, url_check
from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign

EXCERPT_CHARS = 1000
USER_AGENT = "OMS-Webhooks/1"

_local = threading.local()


def _client() -> httpx.Client:
    """One client per thread: connections to receivers are kept alive between deliveries."""
    client = getattr(_local, "client", None)
    if client is None:
        timeout = float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))
        client = _local.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
    return client


_checked: dict[str, float] = {}  # host -> when its addresses were last found public


def _url_safe(url: str) -> str | None:
    """Why the URL may not be called now (None: it may). The resolution is re-checked every 30 s."""
    host = httpx.URL(url).host
    if _checked.get(host, 0) > time.monotonic() - 30:
        return None
    try:
        url_check(url)
    except UnsafeUrl as exc:
        return str(exc)
    _checked[host] = time.monotonic()
    return None


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


# Deliveries this process sent in a batch, until their own message comes (then forgotten): that message is
# skipped without a statement. Only a skip is ever decided from memory, never a send: a delivery replayed
# meanwhile keeps its due time in the row, and the sweep sends it.
_drained: dict[int, float] = {}


def delivery_send(pk: int, *, drain: bool = True) -> str:
    """Send delivery ``pk`` if it is due and not held by another worker; returns what happened. Having sent
    it, the worker sends other due deliveries while it is at it (``deliveries_drain``)."""
    if _drained.pop(pk, 0) > time.monotonic():
        return "skipped"
    outcome = _send_one(pk)
    if drain and outcome == "delivered" and batch_size() > 1:
        deliveries_drain(limit=batch_size())
    return outcome


def batch_size() -> int:
    return int(getattr(settings, "WEBHOOK_BATCH_SIZE", 50))


def _send_one(pk: int) -> str:
    with jobs.claim(DELIVERY_JOB, pk) as job:
        if job is None:
            return "skipped"
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=pk)
        endpoint = delivery.endpoint
        if not endpoint.is_active and delivery.event_type != catalogue.TEST_EVENT:
            return "endpoint disabled"  # stays pending; enabling the endpoint queues it again
        if delivery.order_id is not None:
            earlier = (
                WebhookDelivery.objects.filter(
                    endpoint_id=endpoint.pk,
                    order_id=delivery.order_id,
                    status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
                    pk__lt=pk,
                )
                .order_by("pk")
                .values_list("pk", "next_attempt_at")
                .first()
            )
            if earlier is not None:
                # Wait behind it: its success queues this one; the sweep is the safety net.
                now = timezone.now()
                after = max(earlier[1] or now, now) + timedelta(seconds=5)
                WebhookDelivery.objects.filter(pk=pk).update(job_due_at=after)
                return "waiting for an earlier delivery of the order"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now():
            # A message early for its retry (a batch tried it meanwhile): the sweep sends it when due.
            WebhookDelivery.objects.filter(pk=pk).update(job_due_at=delivery.next_attempt_at)
            return "not due yet"
        return _send(delivery, endpoint, attempt_started=timezone.now(), job=job)


def _post(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> tuple[int | None, str, str, int]:
    """POST the delivery: (status code, answer excerpt, error, duration in ms)."""
    body = body_of(delivery)
    status_code, excerpt, error = None, "", ""
    started = time.perf_counter()
    unsafe = _url_safe(endpoint.url)
    if unsafe:
        error = unsafe
    else:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret=endpoint.secret, body=body),
            DELIVERY_HEADER: str(delivery.uuid),
            EVENT_HEADER: delivery.event_type,
        }
        try:
            response = _client().post(endpoint.url, content=body, headers=headers)
            status_code = response.status_code
            excerpt = response.text[:EXCERPT_CHARS]
        except httpx.TimeoutException:
            error = _("No answer within %(seconds)s s.") % {
                "seconds": int(float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10)))
            }
        except httpx.HTTPError as exc:
            error = (_("Could not connect: %(error)s") % {"error": exc})[:500]
    duration_ms = int((time.perf_counter() - started) * 1000)
    return status_code, excerpt, error, duration_ms


def _send(delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, attempt_started, job: jobs.Claim) -> str:
    status_code, excerpt, error, duration_ms = _post(delivery, endpoint)
    return _record(
        delivery,
        endpoint,
        status_code=status_code,
        excerpt=excerpt,
        error=error,
        duration_ms=duration_ms,
        at=attempt_started,
        job=job,
    )


def _record(delivery, endpoint, *, status_code, excerpt, error, duration_ms, at, job: jobs.Claim) -> str:
    """Log the attempt and write its outcome on the delivery, with the job done (one UPDATE)."""
    now = timezone.now()
    number = delivery.attempts + 1
    succeeded = status_code is not None and 200 <= status_code < 300
    gone = status_code == 410
    failures = number - delivery.budget_from
    exhausted = not succeeded and (gone or failures >= services.max_attempts())
    common = {
        "attempts": number,
        "last_status_code": status_code,
        "last_response": excerpt,
        "last_error": error,
        "last_duration_ms": duration_ms,
        "last_attempt_at": at,
        **job.done_fields(),
    }
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            number=number,
            at=at,
            status_code=status_code,
            response_excerpt=excerpt,
            error=error,
            duration_ms=duration_ms,
            succeeded=succeeded,
        )
        if succeeded:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.SUCCEEDED, delivered_at=now, next_attempt_at=None, **common
            )
            if endpoint.consecutive_failures:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                    consecutive_failures=0, last_success_at=now
                )
            if delivery.order_id is not None:
                following = (
                    WebhookDelivery.objects.filter(
                        endpoint_id=endpoint.pk,
                        order_id=delivery.order_id,
                        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
                        pk__gt=delivery.pk,
                    )
                    .order_by("pk")
                    .values_list("pk", flat=True)
                    .first()
                )
                if following is not None:
                    services._enqueue([following])
            return "delivered"
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        if exhausted:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.FAILED, next_attempt_at=None, **common
            )
            if delivery.event_type != catalogue.TEST_EVENT:
                if gone:
                    reason = _("The receiver answered 410 Gone: the URL no longer takes webhooks.")
                else:
                    reason = _(
                        "A delivery failed %(count)s times over more than a day (last: %(error)s)."
                    ) % {
                        "count": failures,
                        "error": error or f"HTTP {status_code}",
                    }
                services.endpoint_disable(endpoint=endpoint, reason=reason, tell_owner=True)
            return "failed"
        retry_at = now + timedelta(seconds=services.retry_delay_seconds(failures))
        if retry_at == job.until:  # the claim clears a due time equal to its lease's end: keep this one
            retry_at += timedelta(microseconds=1)
        retry = {
            "status": WebhookDelivery.Status.RETRYING,
            "next_attempt_at": retry_at,
            "job_due_at": retry_at,
        }
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**(common | retry))
    return "retrying"


# --- Batches --------------------------------------------------------------------------------------------


def _claim_due(*, limit: int, now, until) -> list[int]:
    """Claim up to ``limit`` due deliveries (as ``jobs.claim`` does one): unsent, due, endpoint enabled,
    not held, attempts left, and no earlier delivery of the same order to the same endpoint unsent.
    ``SKIP LOCKED``: concurrent workers take different rows."""
    Status = WebhookDelivery.Status
    unsent = [Status.PENDING, Status.RETRYING]
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        order_id=OuterRef("order_id"),
        status__in=unsent,
        pk__lt=OuterRef("pk"),
    )
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                DELIVERY_JOB.pending,
                status__in=unsent,
                endpoint__status=WebhookEndpoint.Status.ACTIVE,
                job_attempts__lt=DELIVERY_JOB.max_attempts,
            )
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(job_lease_until__isnull=True) | Q(job_lease_until__lte=now))
            .filter(Q(order_id__isnull=True) | ~Exists(earlier))
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                job_lease_until=until, job_due_at=until, job_attempts=F("job_attempts") + 1
            )
    return ids


def _release(ids: list[int], *, until) -> None:
    """Give back claimed deliveries not attempted: due at once, the claim not counted."""
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids, job_lease_until=until).update(
            job_lease_until=None, job_due_at=timezone.now(), job_attempts=F("job_attempts") - 1
        )


def deliveries_drain(*, limit: int | None = None) -> dict[str, int]:
    """Send up to ``limit`` due deliveries in this run (see the module's docstring). Returns the count of
    each outcome."""
    limit = batch_size() if limit is None else limit
    now = timezone.now()
    until = now + DELIVERY_JOB.lease
    ids = _claim_due(limit=limit, now=now, until=until)
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "released": 0}
    if not ids:
        return counts
    rows = list(WebhookDelivery.objects.select_related("endpoint").filter(pk__in=ids).order_by("pk"))
    budget_end = time.monotonic() + DELIVERY_JOB.lease.total_seconds() / 3
    failing: set[int] = set()  # endpoints that failed in this batch: their other deliveries wait
    successes: list[tuple[WebhookDelivery, tuple, object]] = []
    released: list[int] = []
    for delivery in rows:
        if delivery.endpoint_id in failing or time.monotonic() > budget_end:
            released.append(delivery.pk)
            continue
        at = timezone.now()
        outcome = _post(delivery, delivery.endpoint)
        status_code = outcome[0]
        if status_code is not None and 200 <= status_code < 300:
            successes.append((delivery, outcome, at))
            continue
        failing.add(delivery.endpoint_id)
        status_code, excerpt, error, duration_ms = outcome
        result = _record(
            delivery,
            delivery.endpoint,
            status_code=status_code,
            excerpt=excerpt,
            error=error,
            duration_ms=duration_ms,
            at=at,
            job=jobs.Claim(DELIVERY_JOB, delivery.pk, until),
        )
        counts[result] += 1
    _record_successes(successes, until=until)
    forget_after = time.monotonic() + DELIVERY_JOB.lease.total_seconds()
    if len(_drained) > 10 * limit:
        _drained.clear()  # messages that never came (a purged queue): the memory stays small
    _drained.update(dict.fromkeys((d.pk for d, _o, _a in successes), forget_after))
    _release(released, until=until)
    counts["delivered"] += len(successes)
    counts["released"] = len(released)
    return counts


def _record_successes(successes: list, *, until) -> None:
    """The successes of a batch: their attempts (1 INSERT), the deliveries sent and their jobs done (1
    UPDATE, only where this worker still holds the lease), endpoints' failure counts reset, and the next
    delivery of each order queued."""
    if not successes:
        return
    now = timezone.now()
    attempts, values = [], []
    for delivery, (status_code, excerpt, _error, duration_ms), at in successes:
        attempts.append(
            WebhookAttempt(
                delivery_id=delivery.pk,
                number=delivery.attempts + 1,
                at=at,
                status_code=status_code,
                response_excerpt=excerpt,
                error="",
                duration_ms=duration_ms,
                succeeded=True,
            )
        )
        values.append((delivery.pk, status_code, excerpt, duration_ms, at))
    deliveries = [delivery for delivery, _outcome, _at in successes]
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(attempts)
        _mark_delivered(values, now=now, until=until)
        recovered = {d.endpoint_id for d in deliveries if d.endpoint.consecutive_failures}
        if recovered:
            WebhookEndpoint.objects.filter(pk__in=recovered).update(
                consecutive_failures=0, last_success_at=now
            )
        orders = {(d.endpoint_id, d.order_id) for d in deliveries if d.order_id is not None}
        if orders:
            Status = WebhookDelivery.Status
            following = (
                WebhookDelivery.objects.filter(
                    status__in=[Status.PENDING, Status.RETRYING],
                    endpoint_id__in={e for e, _o in orders},
                    order_id__in={o for _e, o in orders},
                )
                .order_by("endpoint_id", "order_id", "pk")
                .distinct("endpoint_id", "order_id")
                .values_list("pk", "endpoint_id", "order_id")
            )
            services._enqueue([pk for pk, e, o in following if (e, o) in orders])


def _mark_delivered(values: list[tuple], *, now, until) -> None:
    """One ``UPDATE ... FROM (VALUES ...)`` for the whole batch: each delivery sent with its own answer, its
    job done, where this worker still holds the lease. (Django's ``bulk_update`` builds a CASE per field and
    row: a second of CPU for 50 rows.)"""
    table = WebhookDelivery._meta.db_table
    rows = ", ".join(["(%s::bigint, %s::integer, %s::text, %s::integer, %s::timestamptz)"] * len(values))
    sql = f"""
        UPDATE "{table}" AS d SET
            status = %s, delivered_at = %s, next_attempt_at = NULL, attempts = d.attempts + 1,
            last_status_code = v.code, last_response = v.excerpt, last_error = '',
            last_duration_ms = v.ms, last_attempt_at = v.at,
            job_lease_until = NULL, job_due_at = NULL, job_attempts = 0
        FROM (VALUES {rows}) AS v (id, code, excerpt, ms, at)
        WHERE d.id = v.id AND d.job_lease_until = %s
    """  # noqa: S608 (the table name is the model's; every value is a parameter)
    params = [WebhookDelivery.Status.SUCCEEDED, now, *[x for row in values for x in row], until]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _give_up(ids: list[int]) -> None:
    """A delivery whose worker died mid-request too many times in a row: failed, for a manager to replay."""
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=None,
        last_error="The worker sending it stopped too many times in a row.",
    )


DELIVERY_JOB = jobs.register(
    jobs.JobKind(
        name="integrations.webhook_delivery",
        model="integrations.WebhookDelivery",
        task="integrations.webhook_deliver",
        pending=Q(status__in=["pending", "retrying"]),
        lease_seconds=float(getattr(settings, "WEBHOOK_LEASE_SECONDS", 60)),
        max_attempts=10,
        on_give_up=_give_up,
    )
)
