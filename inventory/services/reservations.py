"""Reservations: the allocations of order lines to stock or to incoming replenishments, and the ``reserved``
counters they stand for. Inventory owns both; no other code writes them.

Counters move by compare-and-set (``UPDATE … SET reserved = reserved + q WHERE on_hand - reserved >= q``)
or under row locks taken through ``inventory/locks.py`` in the project's lock order: allocations (by id),
then stock levels (by product, then location), then incoming stock (by id). The caller's transaction
holds them until it commits; a refusal raises before anything is kept (the caller's atomic block rolls
back what was done).
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..exceptions import InsufficientStock, InvalidQuantity, OutOfStock
from ..locks import lock_allocations
from ..models import Allocation, StockMovement
from .stock import (
    _back_on_shelf,
    _check_reason_code,
    _consume_many,
    _move,
    _notify_availability,
    incoming_release,
    incoming_reserve,
    stock_release,
    stock_reserve,
)

Reason = StockMovement.Reason


@dataclass(frozen=True)
class Reservation:
    """Units of an order line to hold: stock at ``location_id``, or units of incoming ``incoming_id``."""

    order_id: int
    line_id: int
    product_id: int
    location_id: int
    quantity: int
    incoming_id: int | None = None

    @property
    def kind(self) -> str:
        return Allocation.Kind.INCOMING if self.incoming_id else Allocation.Kind.STOCK

    def allocation(self, **extra) -> Allocation:
        """Its allocation row, built and not written."""
        return Allocation(
            order_id=self.order_id,
            line_id=self.line_id,
            product_id=self.product_id,
            location_id=self.location_id,
            quantity=self.quantity,
            kind=self.kind,
            incoming_id=self.incoming_id,
            **extra,
        )


def _released(allocation: Allocation, kind: str | None = None) -> dict:
    return {
        "line_id": allocation.line_id,
        "product_id": allocation.product_id,
        "location_id": allocation.location_id,
        "quantity": allocation.quantity,
        "kind": kind or allocation.kind,
    }


def allocations_reserve(*, reservations: list[Reservation], announce: bool = True) -> list[Allocation]:
    """Hold every unit of ``reservations`` or none: compare-and-set updates of the stock levels (in product,
    location order) and of the incoming stock (in id order), then the allocation rows, returned in the order
    of ``reservations``. Raises ``OutOfStock`` at the first counter that cannot hold its units (the
    caller's transaction, or its savepoint, rolls back those already updated). ``announce=False``: the
    caller writes the availability event itself (intake writes all its events in one statement).

    Line-based: a line may hold several reservations (several locations, or the components of a kit)."""
    for r in reservations:
        if not isinstance(r.quantity, int) or isinstance(r.quantity, bool) or r.quantity <= 0:
            raise InvalidQuantity("Quantities must be whole numbers greater than zero.")
    stock = [r for r in reservations if not r.incoming_id]
    incoming = [r for r in reservations if r.incoming_id]
    rows: dict[int, Allocation] = {}
    if stock:
        if connection.vendor == "postgresql":
            made = stock_reserve_many(reservations=stock)
        else:
            made = _stock_reserve_each(reservations=stock)
        rows.update({id(r): a for r, a in zip(stock, made, strict=True)})
    if incoming:
        per_incoming: dict[int, int] = {}
        for r in incoming:
            per_incoming[r.incoming_id] = per_incoming.get(r.incoming_id, 0) + r.quantity
        for incoming_id, quantity in sorted(per_incoming.items()):  # after the stock levels, by id
            incoming_reserve(incoming_id=incoming_id, quantity=quantity)
        made = Allocation.objects.bulk_create([r.allocation() for r in incoming])
        rows.update({id(r): a for r, a in zip(incoming, made, strict=True)})
    if announce:
        _notify_availability({r.product_id for r in reservations})
    return [rows[id(r)] for r in reservations]


def _stock_reserve_each(*, reservations: list[Reservation]) -> list[Allocation]:
    """Where the database has no data-modifying CTEs worth the name (SQLite): one compare-and-set UPDATE
    per stock level, in (product, location) order, then the allocations in one INSERT."""
    per_level: dict[tuple[int, int], int] = {}
    for r in reservations:
        key = (r.product_id, r.location_id)
        per_level[key] = per_level.get(key, 0) + r.quantity
    for (product_id, location_id), quantity in sorted(per_level.items()):
        stock_reserve(product_id=product_id, location_id=location_id, quantity=quantity)
    return Allocation.objects.bulk_create([r.allocation() for r in reservations])


# One statement reserves every stock level an order needs and writes its allocations. The levels are
# locked in the project's lock order (product, then location) by the ``locked`` CTE; the UPDATE then adds
# each level's units only where they are free (``on_hand - reserved >= wanted``, re-checked on the row's
# latest version); the allocations are inserted only when every level was updated, so a refusal writes
# nothing but the updates the caller's atomic block rolls back.
_RESERVE_SQL = """
WITH wanted AS (
    SELECT product_id, location_id, sum(quantity)::integer AS quantity
    FROM unnest(%(a_product)s::bigint[], %(a_location)s::bigint[], %(a_quantity)s::integer[])
        AS w(product_id, location_id, quantity)
    GROUP BY product_id, location_id
), locked AS (
    SELECT sl.id FROM inventory_stocklevel sl
    JOIN wanted w ON w.product_id = sl.product_id AND w.location_id = sl.location_id
    ORDER BY sl.product_id, sl.location_id
    FOR NO KEY UPDATE OF sl
), reserved AS (
    UPDATE inventory_stocklevel sl
    SET reserved = sl.reserved + w.quantity, updated_at = %(now)s
    FROM locked l, wanted w
    WHERE sl.id = l.id AND w.product_id = sl.product_id AND w.location_id = sl.location_id
        AND sl.on_hand - sl.reserved >= w.quantity
    RETURNING sl.id
)
INSERT INTO orders_allocation (order_id, line_id, product_id, location_id, quantity, kind, created_at)
SELECT a.order_id, a.line_id, a.product_id, a.location_id, a.quantity, 'stock', %(now)s
FROM unnest(
    %(a_order)s::bigint[], %(a_line)s::bigint[], %(a_product)s::bigint[], %(a_location)s::bigint[],
    %(a_quantity)s::integer[], %(a_position)s::integer[]
) AS a(order_id, line_id, product_id, location_id, quantity, position)
WHERE (SELECT count(*) FROM reserved) = (SELECT count(*) FROM wanted)
ORDER BY a.position
RETURNING id
"""


def stock_reserve_many(*, reservations: list[Reservation]) -> list[Allocation]:
    """Reserve stock for every reservation (all of kind stock) and write their allocations, in one
    statement (PostgreSQL). Returns the allocations in the order of ``reservations``; raises ``OutOfStock``
    (naming the levels short) when any level cannot hold its units, the caller's atomic block then rolls
    back the levels already updated."""
    now = timezone.now()
    params = {
        "a_order": [r.order_id for r in reservations],
        "a_line": [r.line_id for r in reservations],
        "a_product": [r.product_id for r in reservations],
        "a_location": [r.location_id for r in reservations],
        "a_quantity": [r.quantity for r in reservations],
        "a_position": list(range(len(reservations))),
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SQL, params)
        ids = sorted(row[0] for row in cursor.fetchall())  # inserted in the reservations' order
    if len(ids) != len(reservations):
        raise OutOfStock(
            details={
                "reservations": [
                    {"product": r.product_id, "location": r.location_id, "quantity": r.quantity}
                    for r in reservations
                ]
            }
        )
    rows = []
    for r, pk in zip(reservations, ids, strict=True):
        allocation = r.allocation(created_at=now)
        allocation.pk = pk
        allocation._state.adding = False
        allocation._state.db = connection.alias
        rows.append(allocation)
    return rows


def _release_counters(allocations: list[Allocation]) -> None:
    stock: dict[tuple[int, int], int] = {}
    incoming: dict[int, int] = {}
    for a in allocations:
        if a.kind == Allocation.Kind.STOCK:
            stock[(a.product_id, a.location_id)] = stock.get((a.product_id, a.location_id), 0) + a.quantity
        else:
            incoming[a.incoming_id] = incoming.get(a.incoming_id, 0) + a.quantity
    for (product_id, location_id), quantity in sorted(stock.items()):
        stock_release(product_id=product_id, location_id=location_id, quantity=quantity)
    for incoming_id, quantity in sorted(incoming.items()):
        incoming_release(incoming_id=incoming_id, quantity=quantity)


@transaction.atomic
def allocations_release(
    *,
    order_id: int,
    line_ids: list[int] | None = None,
    location_id: int | None = None,
    kind: str | None = None,
    announce: bool = True,
) -> list[dict]:
    """Give back what the order's allocations not yet consumed hold (all of them, or those of some lines,
    at one location, of one kind) and delete them. What was released, for the timeline."""
    queryset = Allocation.objects.filter(order_id=order_id, consumed_at__isnull=True)
    if line_ids is not None:
        queryset = queryset.filter(line_id__in=line_ids)
    if location_id is not None:
        queryset = queryset.filter(location_id=location_id)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    allocations = lock_allocations(queryset)
    if not allocations:
        return []
    _release_counters(allocations)
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
    if announce:
        _notify_availability({a.product_id for a in allocations})
    return [_released(a) for a in allocations]


@transaction.atomic
def allocations_reduce(*, order_id: int, line_id: int, quantity: int, announce: bool = True) -> list[dict]:
    """Release ``quantity`` units of a line's allocations not yet consumed (pre-orders first, then the
    newest stock allocations), splitting one if needed; what was released."""
    allocations = lock_allocations(
        Allocation.objects.filter(order_id=order_id, line_id=line_id, consumed_at__isnull=True)
    )
    held = sum(a.quantity for a in allocations)
    if quantity <= 0 or quantity > held:
        raise InsufficientStock(
            f"Only {held} unit(s) of this line are held.", details={"held": held, "release": quantity}
        )
    order = sorted(allocations, key=lambda a: (a.kind != Allocation.Kind.INCOMING, -a.pk))
    remaining, touched, released = quantity, [], []
    for allocation in order:
        if remaining <= 0:
            break
        take = min(remaining, allocation.quantity)
        part = Allocation(
            pk=allocation.pk,
            order_id=allocation.order_id,
            line_id=allocation.line_id,
            product_id=allocation.product_id,
            location_id=allocation.location_id,
            quantity=take,
            kind=allocation.kind,
            incoming_id=allocation.incoming_id,
        )
        touched.append(part)
        if take == allocation.quantity:
            Allocation.objects.filter(pk=allocation.pk).delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(quantity=allocation.quantity - take)
        released.append(_released(part))
        remaining -= take
    _release_counters(touched)
    if announce:
        _notify_availability({a.product_id for a in touched})
    return released


def _held_at(location_id: int, lines: Q):
    """The stock allocations still held at a location, of the lines ``lines`` selects."""
    return Allocation.objects.filter(
        lines, location_id=location_id, kind=Allocation.Kind.STOCK, consumed_at__isnull=True
    )


def _line_held(*, line_id: int, location_id: int, product_id: int | None):
    return _held_at(location_id, _of_line(line_id, product_id))


def _of_line(line_id: int, product_id: int | None) -> Q:
    return Q(line_id=line_id) if product_id is None else Q(line_id=line_id, product_id=product_id)


@dataclass(frozen=True)
class Consumption:
    """Units of an order line that leave the stock: ``product_id`` names the component of a kit's line (a
    kit's line holds one allocation per component); None takes the line's allocations whatever they hold."""

    line_id: int
    quantity: int
    product_id: int | None = None


# No savepoint of its own (five statements per call whatever the number of lines): a refusal or a failure
# here ends its caller's transaction (the close, the collection at a store counter, a partner's shipment),
# none of which goes on after it; a caller that would must open its own savepoint.
@transaction.atomic(savepoint=False)
def allocations_consume_many(
    *, location_id: int, items: list[Consumption], actor=None, reference: str = "", notify: bool = True
) -> list[Allocation]:
    """Reserved units of lines leave the stock at a location (a parcel closed at the pack station, an order
    collected at a store counter, a 3PL's shipment): the allocations say so (split when only part of one
    leaves) and the ledger writes one shipment movement per item, taking on hand and reserved down
    together. Set-based: the items' allocations locked in one statement (by id), those that leave whole
    marked in one, the stock levels locked in one (by product, then location: the lock order) and written
    in one, the movements in one, whatever the number of lines. Items of the same line and product are
    taken as one. ``notify=False``: the caller writes ``stock.availability_changed`` itself (the parcel
    close writes it with ``parcel.closed``); otherwise one event names every product that left."""
    merged: dict[tuple[int, int | None], int] = {}
    for item in items:
        quantity = item.quantity
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise InvalidQuantity(
                "Quantities must be whole numbers greater than zero.", details={"quantity": quantity}
            )
        key = (item.line_id, item.product_id)
        merged[key] = merged.get(key, 0) + quantity
    if not merged:
        return []
    wanted = Q()
    for line_id, product_id in merged:
        wanted |= _of_line(line_id, product_id)
    allocations = lock_allocations(_held_at(location_id, wanted))
    now = timezone.now()
    consumed: list[Allocation] = []
    whole: list[int] = []
    split: list[Allocation] = []
    taken: dict[int, int] = {}  # product id: units that leave
    movements: list[tuple[int, int]] = []  # (product id, units), one per item
    for (line_id, product_id), quantity in merged.items():
        mine = [a for a in allocations if a.line_id == line_id and product_id in (None, a.product_id)]
        held = sum(a.quantity for a in mine)
        if held < quantity:
            raise InsufficientStock(
                "The parcel holds more units than the order has reserved at this location.",
                code="not_reserved",
                details={"order_line": line_id, "reserved": held, "extra": quantity - held},
            )
        remaining = quantity
        for allocation in mine:
            if remaining == 0:
                break
            take = min(remaining, allocation.quantity)
            if take < allocation.quantity:
                Allocation.objects.filter(pk=allocation.pk).update(quantity=allocation.quantity - take)
                split.append(
                    Allocation(
                        order_id=allocation.order_id,
                        line_id=line_id,
                        product_id=allocation.product_id,
                        location_id=location_id,
                        quantity=take,
                        kind=Allocation.Kind.STOCK,
                        consumed_at=now,
                    )
                )
            else:
                whole.append(allocation.pk)
                allocation.consumed_at = now
                consumed.append(allocation)
            remaining -= take
        product = mine[0].product_id
        taken[product] = taken.get(product, 0) + quantity
        movements.append((product, quantity))
    if whole:
        Allocation.objects.filter(pk__in=whole).update(consumed_at=now)
    if split:
        consumed += Allocation.objects.bulk_create(split)
    _consume_many(location_id=location_id, taken=taken, movements=movements, actor=actor, reference=reference)
    if notify:
        _notify_availability(sorted(taken))
    return consumed


@transaction.atomic
def allocations_short(
    *,
    line_id: int,
    location_id: int,
    quantity: int,
    reason_code: str,
    product_id: int | None = None,
    actor=None,
    reference: str = "",
    note: str = "",
) -> list[dict]:
    """Reserved units of a line were found missing or damaged at a location: they leave on hand and their
    reservation in one ledger movement, and the line's allocations there shrink by as much (the newest
    first). The owner of the order sources those units again."""
    _check_reason_code(reason_code)
    allocations = lock_allocations(
        _line_held(line_id=line_id, location_id=location_id, product_id=product_id)
    )
    held = sum(a.quantity for a in allocations)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= held:
        raise InvalidQuantity(
            f"Between 1 and {held} unit(s) are reserved for this line here.",
            details={"reserved": held, "quantity": quantity},
        )
    remaining, released = quantity, []
    for allocation in sorted(allocations, key=lambda a: -a.pk):
        if remaining == 0:
            break
        take = min(remaining, allocation.quantity)
        if take == allocation.quantity:
            Allocation.objects.filter(pk=allocation.pk).delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(quantity=allocation.quantity - take)
        released.append({**_released(allocation), "quantity": take})
        remaining -= take
    _move(
        product_id=allocations[0].product_id,
        location_id=location_id,
        delta=-quantity,
        reason=Reason.ADJUSTMENT,
        reason_code=reason_code,
        actor=actor,
        reference=reference,
        note=note,
        release_reserved=quantity,
    )
    _notify_availability([allocations[0].product_id])
    return released


@transaction.atomic
def allocations_put_back(
    *, order_id: int, location_id: int | None = None, actor=None, reference: str = ""
) -> list[dict]:
    """Units that left the stock into parcels that will not leave (the order was cancelled before its
    parcels were handed over) go back on the shelf; their allocations are deleted."""
    queryset = Allocation.objects.filter(order_id=order_id, consumed_at__isnull=False)
    if location_id is not None:
        queryset = queryset.filter(location_id=location_id)
    allocations = lock_allocations(queryset)
    per_level: dict[tuple[int, int], int] = {}
    for a in allocations:
        per_level[(a.product_id, a.location_id)] = (
            per_level.get((a.product_id, a.location_id), 0) + a.quantity
        )
    for (product_id, loc_id), quantity in sorted(per_level.items()):
        _back_on_shelf(
            product_id=product_id,
            location_id=loc_id,
            quantity=quantity,
            reason=Reason.UNPACKED,
            actor=actor,
            reference=reference,
        )
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
    return [_released(a, "packed") for a in allocations]
