"""The carrier tracking poll, in batches.

Beat's ``shipping.tracking_poll`` (every 10 minutes) only **claims** the parcels due for a check and fans them
out: the due parcels are claimed in chunks (one ``SELECT … FOR UPDATE SKIP LOCKED`` and one ``UPDATE`` per
chunk) by moving their ``next_check_at`` to the end of a lease (``TRACKING_LEASE_SECONDS``), grouped by
carrier, and cut into batches of about ``TRACKING_TASK_PARCELS`` parcels (a whole number of the adapter's
``tracking_batch_size``: La Poste's Suivi v2 takes 10 ids a call, the sandbox 100, FedEx 30...). Each batch is
one ``shipping.tracking_batch`` task on the ``tracking`` queue, so any number of workers share a cycle; a
chunk's tasks are queued as soon as it is claimed, so the workers start while the poll claims the rest.

A batch is never lost: its parcels' ``next_check_at`` *is* the lease. A message lost with the broker, or a
worker killed mid-batch, leaves them due again once the lease has passed, and the next poll claims them
again. The lease's value travels with the task and fences it: a batch only applies news to parcels still
holding that lease (a redelivered message after the batch was applied, or a batch taken over after its lease
expired, changes nothing twice). The carrier's rate limits are kept by the adapters themselves
(``quota_per_second`` or La Poste's limiter, shared by every worker through the cache); a passing carrier
error is retried by the task with backoff, within the lease.

A batch costs a fixed number of statements whatever its size (pinned by ``tests/shipping/
test_tracking_batches.py``): the fenced read of its parcels with their carrier, the adapter's settings
(carriers with a settings form), then one transaction: the parcels locked (by id, the lock order), their
new events inserted once (``ON CONFLICT DO NOTHING … RETURNING``), the parcels moved by one ``UPDATE`` (both
from one JSON parameter on PostgreSQL, so the statements' text does not grow with the batch), and
the ``shipment.status_changed`` events written to the log by one ``INSERT`` (``emit_many``, JSON too).
Ids go as one array, ``id = ANY(%s)`` (``ids_filter``), and the batch's read is by id alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Lookup, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from common import jobs

from . import carriers, events
from .locks import lock_shipments
from .models import Carrier, Shipment, ShipmentStatus, TrackingEvent

logger = logging.getLogger(__name__)

TRACKED = (
    ShipmentStatus.HANDED_OVER,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.AVAILABLE_FOR_PICKUP,
    ShipmentStatus.EXCEPTION,
)
# How a status may move on a carrier event (a late, older event never moves a parcel back).
RANK = {
    ShipmentStatus.CREATED: 0,
    ShipmentStatus.LABELLED: 1,
    ShipmentStatus.LABEL_FAILED: 1,
    ShipmentStatus.HANDED_OVER: 2,
    ShipmentStatus.IN_TRANSIT: 3,
    ShipmentStatus.EXCEPTION: 4,
    ShipmentStatus.OUT_FOR_DELIVERY: 5,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 6,
    ShipmentStatus.DELIVERED: 7,
    ShipmentStatus.RETURNED: 7,
}
ALERTS = {ShipmentStatus.EXCEPTION: "delivery_failed", ShipmentStatus.RETURNED: "returned"}
CLAIM_CHUNK = 5000


def next_check(*, shipment: Shipment, now) -> datetime:
    """Young parcels are checked often, old ones less: 1 h the first day, 3 h until day 3, 6 h until day
    10, then daily."""
    age = now - (shipment.shipped_at or shipment.created_at)
    if age < timedelta(days=1):
        return now + timedelta(hours=1)
    if age < timedelta(days=3):
        return now + timedelta(hours=3)
    if age < timedelta(days=10):
        return now + timedelta(hours=6)
    return now + timedelta(days=1)


def lease_seconds() -> int:
    return int(getattr(settings, "TRACKING_LEASE_SECONDS", 900))


def task_size(adapter) -> int:
    """Parcels per task: a whole number of the carrier's ids per call, about ``TRACKING_TASK_PARCELS``."""
    per_call = max(1, int(adapter.tracking_batch_size))
    wanted = max(1, int(getattr(settings, "TRACKING_TASK_PARCELS", 100)))
    return per_call * max(1, wanted // per_call)


# --- Beat: claim and fan out -------------------------------------------------------------------------------


def _due(now):
    return (
        Shipment.objects.filter(status__in=TRACKED, service__isnull=False)
        .exclude(tracking_number="")
        .filter(Q(next_check_at__lte=now) | Q(next_check_at__isnull=True))
    )


def _claim(*, now, until, limit: int) -> list[tuple[int, int]]:
    """Take up to ``limit`` due parcels for this poll: their next check moves to ``until`` (the lease).
    Parcels another poll is claiming are skipped, not waited for. Returns ``(shipment id, carrier id)``.
    On PostgreSQL one statement (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``)."""
    if connection.vendor == "postgresql":
        due = (
            _due(now)
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("next_check_at", "pk")
            .values("pk")[:limit]
        )
        table = Shipment._meta.db_table
        services = Shipment._meta.get_field("service").related_model._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:  # FOR UPDATE compiles only in a transaction
            sql, params = due.query.sql_with_params()
            cursor.execute(
                f"UPDATE {table} AS s SET next_check_at = %s FROM {services} AS cs "  # noqa: S608
                f"WHERE cs.id = s.service_id AND s.id IN ({sql}) RETURNING s.id, cs.carrier_id",
                [until, *params],
            )
            return cursor.fetchall()
    with transaction.atomic():
        rows = list(
            _due(now)
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("next_check_at", "pk")
            .values_list("pk", "service__carrier_id")[:limit]
        )
        if rows:
            Shipment.objects.filter(pk__in=[pk for pk, _carrier in rows]).update(next_check_at=until)
    return rows


def tracking_poll(*, now=None, limit: int | None = None, inline: bool = False) -> dict:
    """Beat's work: claim the parcels due (at most ``TRACKING_POLL_MAX``) and queue one task per batch of
    one carrier. Returns what was claimed and queued. The return labels in parcels are checked here too
    (a few hundred a day). ``inline`` applies the batches in this process instead (the demo's data, which
    needs the news before it goes on)."""
    from .shipments import return_labels_poll
    from .tasks import tracking_batch as tracking_batch_task

    now = now or timezone.now()
    until = now + timedelta(seconds=lease_seconds())
    limit = limit or int(getattr(settings, "TRACKING_POLL_MAX", 200_000))
    lease = until.isoformat()
    result = {"claimed": 0, "batches": 0, "untracked": 0, "lease_until": lease}
    carriers_by_id: dict[int, Carrier] = {}
    sizes: dict[int, int | None] = {}  # carrier id → parcels per task (None: the carrier tracks nothing)
    pending: dict[int, list[int]] = {}  # a carrier's parcels claimed but short of a whole task

    def publish(batches: list[tuple[int, list[int]]]) -> None:
        # Interleaved by carrier, so one carrier's quota does not hold up the others' batches in the queue.
        for carrier_id, ids in _interleave(batches):
            if inline:
                tracking_batch(carrier_id=carrier_id, shipment_ids=ids, lease_until=lease, now=now)
            else:
                # ``argsrepr`` given: Celery's own, a ``saferepr`` of the 100 ids, was half the poll's CPU.
                jobs.enqueue(
                    tracking_batch_task,
                    carrier_id,
                    ids,
                    lease,
                    argsrepr=f"({carrier_id}, [{len(ids)} ids from {ids[0]}], {lease!r})",
                )
            result["batches"] += 1

    # Each chunk's whole tasks are queued as soon as it is claimed, so the workers (and a carrier's quota,
    # the cycle's pace) start on the first chunk while the next ones are claimed; what is short of a whole
    # task waits for the next chunk, and the rest goes out at the end.
    while result["claimed"] < limit:
        rows = _claim(now=now, until=until, limit=min(CLAIM_CHUNK, limit - result["claimed"]))
        result["claimed"] += len(rows)
        for pk, carrier_id in rows:
            pending.setdefault(carrier_id, []).append(pk)
        unknown = [carrier_id for carrier_id in pending if carrier_id not in sizes]
        if unknown:
            carriers_by_id.update(Carrier.objects.in_bulk(unknown))
            for carrier_id in unknown:
                adapter = carriers.get_adapter(carriers_by_id[carrier_id])
                sizes[carrier_id] = task_size(adapter) if carriers.TRACKING in adapter.supports else None
        last = len(rows) < CLAIM_CHUNK or result["claimed"] >= limit
        batches = []
        for carrier_id in sorted(pending):
            ids, size = pending[carrier_id], sizes[carrier_id]
            if size is None:
                result["untracked"] += Shipment.objects.filter(pk__in=ids).update(next_check_at=None)
                pending[carrier_id] = []
                continue
            whole = len(ids) if last else len(ids) - len(ids) % size
            batches.extend((carrier_id, ids[i : min(i + size, whole)]) for i in range(0, whole, size))
            pending[carrier_id] = ids[whole:]
        publish(batches)
        if last:
            break
    result["returns_used"] = return_labels_poll(now=now)
    return result


def _interleave(batches: list[tuple[int, list[int]]]) -> list[tuple[int, list[int]]]:
    queues: dict[int, list] = {}
    for batch in batches:
        queues.setdefault(batch[0], []).append(batch)
    out = []
    while any(queues.values()):
        for carrier_id in list(queues):
            if queues[carrier_id]:
                out.append(queues[carrier_id].pop(0))
    return out


# --- A batch: one carrier, one call (or a few), one transaction ---------------------------------------------


@dataclass
class BatchResult:
    parcels: int = 0  # parcels of the batch still holding its lease
    answered: int = 0  # parcels the carrier answered for
    events: int = 0  # tracking events stored (new ones)
    moved: int = 0  # parcels whose status moved

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def tracking_batch(*, carrier_id: int, shipment_ids: list[int], lease_until: str, now=None) -> dict:
    """Ask the carrier about one batch of parcels claimed by a poll and apply its answers (the task's
    work). The carrier is called outside any transaction; a passing carrier error is raised for the task to
    retry (the parcels keep their lease), a refusal leaves them due again when the lease ends."""
    until = parse_datetime(lease_until) if isinstance(lease_until, str) else lease_until
    # By primary key only; the lease and the status are checked here, not in the WHERE: a condition on
    # ``next_check_at`` tempts the planner into the due-parcels index, where every parcel of the poll shares
    # the lease's value (see ``ids_filter``). Tuples, not models: the carrier is built once, from the first
    # row (three model instances per parcel cost more Python than the read).
    carrier_fields = [f.attname for f in Carrier._meta.concrete_fields]
    rows = [
        row
        for row in Shipment.objects.filter(ids_filter(shipment_ids))
        .order_by()
        .values_list(
            "pk",
            "tracking_number",
            "next_check_at",
            "status",
            *(f"service__carrier__{name}" for name in carrier_fields),
        )
        if row[2] == until and row[3] in TRACKED
    ]
    if not rows:
        return BatchResult().as_dict()
    carrier = Carrier.from_db(connection.alias, carrier_fields, rows[0][4:])
    at = 4 + carrier_fields.index(Carrier._meta.pk.attname)
    if any(row[at] != carrier_id for row in rows):
        other = next(row[at] for row in rows if row[at] != carrier_id)
        raise ValueError(f"batch of carrier {carrier_id} holds a parcel of carrier {other}")
    adapter = carriers.get_adapter(carrier)
    by_number = {row[1]: row[0] for row in rows}
    try:
        updates = adapter.track(list(by_number))
    except carriers.RetryableCarrierError:
        raise
    except carriers.CarrierError as exc:
        logger.warning("tracking batch of %s refused: %s", carrier.code, exc)
        return {**BatchResult(parcels=len(rows)).as_dict(), "error": str(exc)}
    answers = {by_number[u.tracking_number]: u for u in updates if u.tracking_number in by_number}
    result = tracking_apply_many(updates=answers, now=now, lease_until=until)
    result.parcels = len(rows)
    return result.as_dict()


class _AnyOf(Lookup):
    """``lhs = ANY(%s::bigint[])``: a list of ids as one array parameter (see ``ids_filter``)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        ids = [int(i) for i in self.rhs]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", [*params, ids]
        if not ids:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(ids))})", [*params, *ids]


def ids_filter(ids, field: str = "pk") -> _AnyOf:
    """A filter on ``field`` being one of ``ids``: on PostgreSQL ``= ANY(%s::bigint[])``, one array
    parameter rather than one placeholder per id (whose parsing by the driver cost more CPU than the rows:
    client-side binding splits the statement on every ``%s``; a fixed text is parsed once and cached).

    Not ``IN (SELECT unnest(%s))``, its first form: the planner cannot see into ``unnest`` (it guesses 100
    rows) and, with the lease's ``next_check_at = …`` in the same WHERE, it drove the batch's read from the
    due-parcels index, i.e. every parcel of the whole poll under that lease, filtered against the batch's
    ids row by row: ~O(parcels claimed) per batch, quadratic in the cycle (7 ms of PostgreSQL per parcel at
    100,000). ``= ANY(array)`` is an index condition on the primary key, costed by the array's length."""
    return _AnyOf(F(field), list(ids))


def _insert_events(rows: list[tuple]) -> set[tuple[int, str, datetime]]:
    """Insert tracking events, each once (the table's unique shipment + code + time): one statement,
    ``INSERT … SELECT FROM json_array_elements(%s)`` on PostgreSQL (two parameters whatever the number of
    rows: the rows as one JSON text, the time received, the same for all). Returns the (shipment id, code,
    time) of those that were new."""
    if not rows:
        return set()
    table = TrackingEvent._meta.db_table
    columns = "shipment_id, code, status, label, at, place, received_at"
    returning = "ON CONFLICT (shipment_id, code, at) DO NOTHING RETURNING shipment_id, code, at"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT (e->>0)::bigint, e->>1, e->>2, e->>3, "  # noqa: S608
                f"(e->>4)::timestamptz, e->>5, %s FROM json_array_elements(%s::json) AS e {returning}",
                [rows[0][6], _json([row[:6] for row in rows])],
            )
        else:
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} {returning}",  # noqa: S608
                [value for row in rows for value in row],
            )
        returned = cursor.fetchall()
    new = set()
    for shipment_id, code, at in returned:
        if isinstance(at, str):  # SQLite
            at = parse_datetime(at)
        if timezone.is_naive(at):
            at = timezone.make_aware(at, timezone.utc)
        new.add((shipment_id, code, at.timestamp()))
    return new


UPDATED = ("status", "delivered_at", "alert", "last_event_at", "next_check_at")
# What a batch reads of the parcels it locks (a whole row per parcel cost more Python than the batch needs).
LOCKED_FIELDS = ("pk", "number", "order_id", "shipped_at", "created_at", *UPDATED)


def _update_shipments(shipments: list[Shipment]) -> None:
    """Write the parcels' tracking fields in one statement: ``UPDATE … FROM json_array_elements(%s)`` on
    PostgreSQL (Django's ``bulk_update`` builds a ``CASE`` per field and row, which cost more Python than
    the rest of the batch; one JSON parameter keeps the statement's text fixed), ``bulk_update``
    elsewhere."""
    if connection.vendor != "postgresql":
        Shipment.objects.bulk_update(shipments, list(UPDATED))
        return
    table = Shipment._meta.db_table
    rows = [[s.pk, s.status, s.delivered_at, s.alert, s.last_event_at, s.next_check_at] for s in shipments]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET status = v->>1, delivered_at = (v->>2)::timestamptz, "  # noqa: S608
            "alert = v->>3, last_event_at = (v->>4)::timestamptz, next_check_at = (v->>5)::timestamptz "
            "FROM json_array_elements(%s::json) AS v WHERE s.id = (v->>0)::bigint",
            [_json(rows)],
        )


def _json(rows: list) -> str:
    """Rows as one JSON text for PostgreSQL's ``json_array_elements``: one ``json.dumps`` costs a fraction
    of the driver's quoting of one array per column, value by value (the batch's largest cost after the
    event log's insert), and the statement's text stays the same whatever the number of rows."""
    return json.dumps(rows, default=_iso)


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


@transaction.atomic
def tracking_apply_many(
    *, updates: dict[int, carriers.TrackingUpdate], now=None, lease_until=None
) -> BatchResult:
    """Store carriers' events for several parcels (each once) and move each parcel to its newest status,
    never backwards; ``orders`` moves the orders on from the ``shipment.status_changed`` events. With
    ``lease_until``, only parcels still holding that lease (claimed by the poll that queued this batch) are
    touched. A fixed number of statements whatever the number of parcels."""
    now = now or timezone.now()
    result = BatchResult()
    if not updates:
        return result
    locked = lock_shipments(ids=ids_filter(sorted(updates)), fields=LOCKED_FIELDS)
    if lease_until is not None:
        locked = [s for s in locked if s.next_check_at == lease_until and s.status in TRACKED]
    rows = []
    for shipment in locked:
        for event in updates[shipment.pk].events:
            rows.append(
                (
                    shipment.pk,
                    event.code[:32],
                    event.status or "",
                    event.label[:255],
                    event.at,
                    event.place[:120],
                    now,
                )
            )
    new = _insert_events(rows)
    result.events = len(new)
    changed, log = [], []
    for shipment in locked:
        update = updates[shipment.pk]
        result.answered += 1
        new_events = [e for e in update.events if (shipment.pk, e.code[:32], e.at.timestamp()) in new]
        if new_events:
            shipment.last_event_at = max(e.at for e in update.events)
        moved_by = None
        for event in new_events:
            if (
                event.status
                and RANK.get(event.status, 0) >= RANK.get(shipment.status, 0)
                and event.status != shipment.status
            ):
                moved_by = event
        old = shipment.status
        if moved_by is not None:
            shipment.status = moved_by.status
            if shipment.status == ShipmentStatus.DELIVERED:
                shipment.delivered_at = moved_by.at
            shipment.alert = ALERTS.get(shipment.status, "")
        elif new_events and shipment.alert == "no_news":
            shipment.alert = ""
        last_news = shipment.last_event_at or shipment.shipped_at
        if shipment.status not in Shipment.FINAL and last_news:
            if now - last_news > timedelta(days=settings.TRACKING_NO_NEWS_DAYS):
                shipment.alert = shipment.alert or "no_news"
        final = update.final or shipment.status in Shipment.FINAL
        shipment.next_check_at = None if final else next_check(shipment=shipment, now=now)
        changed.append(shipment)
        if moved_by is not None:
            result.moved += 1
            log.append((shipment, old, moved_by))
    if changed:
        _update_shipments(changed)
    if log:
        events.statuses_changed(log)
    return result
