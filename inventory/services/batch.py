"""Reservations for a batch of orders (``orders/services/batch.py``): every order's units are held entirely
or not at all, in a fixed number of statements for the whole batch.

1. ``stock_hold_groups`` locks every stock level and incoming replenishment the batch plans to use, in the
   project's lock order (stock levels by product then location, then incoming stock by id), reads what is
   free under those locks, gives each group (one order) its units if all of them are still free, in the
   batch's order, and moves the counters of the groups held in one UPDATE per table. A group that does not
   fit any more (another batch or order took the stock since it was planned) takes nothing: the caller
   plans it again.
2. ``allocations_record`` writes the allocation rows of the groups held, once the caller has their order
   and line ids, in the same transaction.

The caller's transaction holds the locks until it commits, so ``reserved <= on_hand`` holds whatever runs
beside it, exactly as with ``allocations_reserve``'s compare-and-set updates.
"""

import json
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from common.instances import build

from ..exceptions import InvalidQuantity
from ..models import Allocation, IncomingStock, StockLevel
from .reservations import Reservation


@dataclass(frozen=True)
class Hold:
    """Units to hold for one order: stock of ``product_id`` at ``location_id``, or of ``incoming_id``."""

    product_id: int
    location_id: int
    quantity: int
    incoming_id: int | None = None


def _check(quantity) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidQuantity("Quantities must be whole numbers greater than zero.")


def stock_hold_groups(*, groups: list[list[Hold]]) -> list[bool]:
    """Hold each group's units entirely or not at all; returns, per group, whether it was held. Must run
    inside the caller's transaction (the locks and counters are kept until it commits)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("stock_hold_groups must run inside a transaction.")
    level_keys: set[tuple[int, int]] = set()
    incoming_ids: set[int] = set()
    for group in groups:
        for hold in group:
            _check(hold.quantity)
            if hold.incoming_id:
                incoming_ids.add(hold.incoming_id)
            else:
                level_keys.add((hold.product_id, hold.location_id))
    free_level: dict[tuple[int, int], int] = {}
    level_ids: dict[tuple[int, int], int] = {}
    if level_keys:
        for pk, product_id, location_id, on_hand, reserved in _lock_levels(sorted(level_keys)):
            free_level[(product_id, location_id)] = on_hand - reserved
            level_ids[(product_id, location_id)] = pk
    free_incoming: dict[int, int] = {}
    if incoming_ids:
        for pk, quantity, reserved in (
            IncomingStock.objects.filter(pk__in=incoming_ids, status=IncomingStock.Status.OPEN)
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", "quantity", "reserved")
        ):
            free_incoming[pk] = quantity - reserved

    held: list[bool] = []
    add_level: dict[int, int] = {}
    add_incoming: dict[int, int] = {}
    for group in groups:
        need_level: dict[tuple[int, int], int] = {}
        need_incoming: dict[int, int] = {}
        for hold in group:
            if hold.incoming_id:
                need_incoming[hold.incoming_id] = need_incoming.get(hold.incoming_id, 0) + hold.quantity
            else:
                key = (hold.product_id, hold.location_id)
                need_level[key] = need_level.get(key, 0) + hold.quantity
        fits = all(free_level.get(k, 0) >= q for k, q in need_level.items()) and all(
            free_incoming.get(k, 0) >= q for k, q in need_incoming.items()
        )
        held.append(fits and bool(group))
        if not (fits and group):
            continue
        for key, quantity in need_level.items():
            free_level[key] -= quantity
            add_level[level_ids[key]] = add_level.get(level_ids[key], 0) + quantity
        for key, quantity in need_incoming.items():
            free_incoming[key] -= quantity
            add_incoming[key] = add_incoming.get(key, 0) + quantity

    if add_level:
        _add_reserved(add_level)
    if add_incoming:
        IncomingStock.objects.filter(pk__in=add_incoming).update(
            reserved=F("reserved") + _by_pk(add_incoming)
        )
    return held


# On PostgreSQL the batch's (product, location) pairs and amounts travel as two arrays: the ORM's versions
# (an OR of one Q per pair, a CASE of one WHEN per level) cost more Python to build than the rest of the
# hold, for the same rows, the same lock order and the same counters.
_LOCK_LEVELS = (
    'SELECT s."id", s."product_id", s."location_id", s."on_hand", s."reserved" FROM "inventory_stocklevel" s '
    "JOIN unnest(%s::bigint[], %s::bigint[]) AS w(product_id, location_id) "
    'ON s."product_id" = w.product_id AND s."location_id" = w.location_id '
    'ORDER BY s."product_id" ASC, s."location_id" ASC FOR UPDATE OF s'
)
_ADD_RESERVED = (
    'UPDATE "inventory_stocklevel" SET "reserved" = "inventory_stocklevel"."reserved" + a.quantity, '
    '"updated_at" = %s FROM unnest(%s::bigint[], %s::integer[]) AS a(id, quantity) '
    'WHERE "inventory_stocklevel"."id" = a.id'
)


def _lock_levels(keys: list[tuple[int, int]]):
    """The stock levels of ``keys`` (sorted pairs), locked in the lock order: (pk, product, location,
    on_hand, reserved) rows."""
    if connection.vendor != "postgresql":
        wanted = reduce(or_, (Q(product_id=p, location_id=loc) for p, loc in keys))
        return (
            StockLevel.objects.filter(wanted)
            .order_by("product_id", "location_id")
            .select_for_update(of=("self",))
            .values_list("pk", "product_id", "location_id", "on_hand", "reserved")
        )
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_LEVELS, [[p for p, _loc in keys], [loc for _p, loc in keys]])
        return cursor.fetchall()


def _add_reserved(amounts: dict[int, int]) -> None:
    """``reserved += amount`` for each stock level (already locked), in one statement."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        StockLevel.objects.filter(pk__in=amounts).update(
            reserved=F("reserved") + _by_pk(amounts), updated_at=now
        )
        return
    ids = sorted(amounts)
    with connection.cursor() as cursor:
        cursor.execute(_ADD_RESERVED, [now, ids, [amounts[pk] for pk in ids]])


def _by_pk(amounts: dict[int, int]) -> Case:
    return Case(
        *(When(pk=pk, then=Value(quantity)) for pk, quantity in sorted(amounts.items())),
        default=Value(0),
        output_field=IntegerField(),
    )


def allocations_prepare(*, reservations: list[Reservation]) -> list[Allocation]:
    """The allocation rows of ``reservations``, built but not written: the caller builds them before it locks
    the stock levels and writes them with ``allocations_insert`` once they are held."""
    now = timezone.now()
    return [
        build(
            Allocation,
            order_id=r.order_id,
            line_id=r.line_id,
            product_id=r.product_id,
            location_id=r.location_id,
            quantity=r.quantity,
            kind=r.kind,
            incoming_id=r.incoming_id,
            created_at=now,
        )
        for r in reservations
    ]


# The rows as one JSON parameter (as ``common.eventlog`` writes events): one ``json.dumps`` instead of
# Django's per-field preparation and the driver's per-value quoting, for a statement run under the locks.
_INSERT_ALLOCATIONS = (
    f'INSERT INTO "{Allocation._meta.db_table}" '  # noqa: S608 - the model's own table
    '("order_id", "line_id", "product_id", "location_id", "quantity", "kind", "incoming_id", "created_at") '
    "SELECT (e->>0)::bigint, (e->>1)::bigint, (e->>2)::bigint, (e->>3)::bigint, (e->>4)::integer, e->>5, "
    "(e->>6)::bigint, %s FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) "
    "ORDER BY n RETURNING id"
)


def allocations_insert(*, allocations: list[Allocation]) -> list[Allocation]:
    """Write ``allocations`` (from ``allocations_prepare``; their units already held by
    ``stock_hold_groups``) in one statement; their ids are set."""
    if not allocations:
        return allocations
    if connection.vendor != "postgresql":
        return Allocation.objects.bulk_create(allocations)
    rows = [
        [a.order_id, a.line_id, a.product_id, a.location_id, a.quantity, a.kind, a.incoming_id]
        for a in allocations
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ALLOCATIONS, [allocations[0].created_at, json.dumps(rows)])
        ids = cursor.fetchall()
    alias = connection.alias  # read once: ``connection`` is a proxy looked up per access
    for allocation, (pk,) in zip(allocations, ids, strict=True):
        allocation.pk = pk
        allocation._state.adding = False  # stored, as bulk_create leaves its rows
        allocation._state.db = alias
    return allocations


def allocations_record(*, reservations: list[Reservation]) -> list[Allocation]:
    """The allocation rows of units already held by ``stock_hold_groups``, in one statement."""
    return allocations_insert(allocations=allocations_prepare(reservations=reservations))
