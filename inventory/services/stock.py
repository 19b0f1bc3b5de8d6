"""Write operations of the inventory app: every change to ``on_hand`` writes its ledger movement in the
same transaction; reservations are compare-and-set updates, so stock is never oversold."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from ..events import availability_changed, incoming_received
from ..exceptions import IncomingStockClosed, InsufficientStock, InvalidQuantity, OutOfStock
from ..locks import lock_allocations, lock_incoming, lock_level, lock_levels
from ..models import Allocation, IncomingStock, Location, Product, StockLevel, StockMovement
from .kits import kit_refuse_stock

Reason = StockMovement.Reason


def _check_quantity(quantity) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidQuantity(
            "Quantities must be whole numbers greater than zero.", details={"quantity": quantity}
        )


def _check_reason_code(reason_code: str) -> None:
    if reason_code not in StockMovement.AdjustmentCode.values:
        raise InvalidQuantity(
            "Unknown adjustment reason.",
            code="invalid_reason",
            details={"reason_code": reason_code, "allowed": StockMovement.AdjustmentCode.values},
        )


def _notify_availability(product_ids) -> None:
    availability_changed(product_ids=product_ids)


def _locked_level(*, product_id: int, location_id: int) -> StockLevel:
    return lock_level(product_id=product_id, location_id=location_id)


def _move(
    *,
    product_id: int,
    location_id: int,
    delta: int,
    reason: str,
    actor=None,
    reference: str = "",
    reason_code: str = "",
    note: str = "",
    release_reserved: int = 0,
    add_reserved: int = 0,
) -> StockMovement:
    """Change ``on_hand`` by ``delta`` (and ``reserved`` by ``add_reserved - release_reserved``) under the
    level's row lock, and write the ledger row. Refuses to go below zero or below what stays reserved."""
    level = _locked_level(product_id=product_id, location_id=location_id)
    new_on_hand = level.on_hand + delta
    new_reserved = level.reserved - release_reserved + add_reserved
    if new_reserved < 0:
        raise InsufficientStock(
            "Fewer units are reserved than this operation releases.",
            details={"reserved": level.reserved, "release": release_reserved},
        )
    if new_on_hand < new_reserved:
        raise InsufficientStock(
            f"Only {level.on_hand - level.reserved} unit(s) are free at this location "
            f"({level.on_hand} on hand, {level.reserved} reserved).",
            details={"on_hand": level.on_hand, "reserved": level.reserved, "requested": -delta},
        )
    StockLevel.objects.filter(pk=level.pk).update(
        on_hand=new_on_hand, reserved=new_reserved, updated_at=timezone.now()
    )
    return StockMovement.objects.create(
        product_id=product_id,
        location_id=location_id,
        delta=delta,
        reason=reason,
        reason_code=reason_code,
        reference=reference[:100],
        note=note[:255],
        on_hand_after=new_on_hand,
        actor=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def stock_receive(
    *,
    product: Product,
    location: Location,
    quantity: int,
    actor=None,
    reference: str = "",
    bin_code: str = "",
) -> StockMovement:
    """Goods received at a location: on hand goes up, the ledger says so. Units of a SKU expected at this
    location (open purchase orders or transfers) are received against those first, oldest expected first,
    so the pre-orders waiting on them are allocated in order of arrival whichever way the goods are
    reported; only what nobody expected is a plain receipt. Returns the last movement written."""
    kit_refuse_stock(product=product)
    _check_quantity(quantity)
    remaining = quantity
    movement = None
    expected = (
        IncomingStock.objects.filter(product=product, location=location, status=IncomingStock.Status.OPEN)
        .order_by("expected_on", "pk")
        .values_list("pk", flat=True)
    )
    for incoming_id in expected:
        if remaining <= 0:
            break
        # Read without a lock: the replenishment is locked (and what it still expects re-read) inside.
        receipt = _incoming_receive(
            incoming_id=incoming_id, quantity=remaining, actor=actor, reference=reference, up_to=True
        )
        if receipt is not None:
            movement = receipt.movement
            remaining -= receipt.quantity
    if remaining > 0:
        movement = _move(
            product_id=product.pk,
            location_id=location.pk,
            delta=remaining,
            reason=Reason.RECEIPT,
            actor=actor,
            reference=reference,
        )
        _notify_availability([product.pk])
    if bin_code:
        StockLevel.objects.filter(product=product, location=location).update(bin_code=bin_code)
    return movement


@transaction.atomic
def stock_open(*, rows: list[tuple[Product, Location, int, str]], reference: str, actor=None) -> int:
    """Opening stock (a new location, a first import): ``(product, location, quantity, bin)`` for levels
    that do not exist yet, received in two statements (the levels and their ledger receipts) and one
    availability event. Refused for a level that exists already (receive it instead) and for a kit."""
    if not rows:
        return 0
    for product, _location, quantity, _bin in rows:
        kit_refuse_stock(product=product)
        _check_quantity(quantity)
    keys = {(product.pk, location.pk) for product, location, _q, _b in rows}
    existing = set(
        StockLevel.objects.filter(
            product_id__in={p for p, _l in keys}, location_id__in={loc for _p, loc in keys}
        ).values_list("product_id", "location_id")
    )
    if len(keys) != len(rows) or keys & existing:
        raise InvalidQuantity(
            "Opening stock is for levels that do not exist yet: receive the others.", code="level_exists"
        )
    StockLevel.objects.bulk_create(
        [
            StockLevel(product=product, location=location, on_hand=quantity, bin_code=bin_code[:32])
            for product, location, quantity, bin_code in rows
        ]
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                product=product,
                location=location,
                delta=quantity,
                reason=Reason.RECEIPT,
                reference=reference[:100],
                on_hand_after=quantity,
                actor=actor if getattr(actor, "pk", None) else None,
            )
            for product, location, quantity, _bin in rows
        ]
    )
    _notify_availability({product.pk for product, *_rest in rows})
    return len(rows)


@transaction.atomic
def stock_adjust(
    *,
    product: Product,
    location: Location,
    delta: int,
    reason_code: str,
    actor=None,
    note: str = "",
    reference: str = "",
) -> StockMovement:
    """A correction (count, damage, loss...). Never below zero, never below what is reserved for orders."""
    kit_refuse_stock(product=product)
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise InvalidQuantity(
            "An adjustment is a whole number of units, not zero.", details={"quantity": delta}
        )
    _check_reason_code(reason_code)
    movement = _move(
        product_id=product.pk,
        location_id=location.pk,
        delta=delta,
        reason=Reason.ADJUSTMENT,
        actor=actor,
        reason_code=reason_code,
        note=note,
        reference=reference,
    )
    _notify_availability([product.pk])
    return movement


@transaction.atomic
def stock_count(
    *, product: Product, location: Location, counted: int, actor=None, note: str = ""
) -> StockMovement | None:
    """An inventory count: sets on hand to what was counted, through an adjustment movement."""
    kit_refuse_stock(product=product)
    if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
        raise InvalidQuantity("A count is a whole number, zero or more.", details={"counted": counted})
    level = _locked_level(product_id=product.pk, location_id=location.pk)
    delta = counted - level.on_hand
    if delta == 0:
        return None
    return stock_adjust(
        product=product,
        location=location,
        delta=delta,
        reason_code=StockMovement.AdjustmentCode.COUNT,
        actor=actor,
        note=note,
    )


@transaction.atomic
def incoming_create(
    *,
    product: Product,
    location: Location,
    quantity: int,
    expected_on: date,
    reference: str = "",
    kind: str = IncomingStock.Kind.PURCHASE,
    from_location: Location | None = None,
) -> IncomingStock:
    """A replenishment on its way: it becomes pre-orderable at once."""
    kit_refuse_stock(product=product)
    _check_quantity(quantity)
    incoming = IncomingStock.objects.create(
        product=product,
        location=location,
        quantity=quantity,
        expected_on=expected_on,
        reference=reference[:100],
        kind=kind,
        from_location=from_location,
    )
    _notify_availability([product.pk])
    return incoming


@transaction.atomic
def stock_transfer(
    *,
    product: Product,
    from_location: Location,
    to_location: Location,
    quantity: int,
    expected_on: date,
    actor=None,
    reference: str = "",
) -> IncomingStock:
    """Send free units from one location to another: they leave the source now (transfer out) and are
    in transit, as incoming stock at the destination, until received there (transfer in)."""
    kit_refuse_stock(product=product)
    _check_quantity(quantity)
    if from_location.pk == to_location.pk:
        raise InvalidQuantity("A transfer goes to another location.", code="same_location")
    incoming = IncomingStock.objects.create(
        product=product,
        location=to_location,
        quantity=quantity,
        expected_on=expected_on,
        kind=IncomingStock.Kind.TRANSFER,
        from_location=from_location,
        reference=reference[:100],
    )
    _move(
        product_id=product.pk,
        location_id=from_location.pk,
        delta=-quantity,
        reason=Reason.TRANSFER_OUT,
        actor=actor,
        reference=reference or f"transfer #{incoming.pk} → {to_location.code}",
    )
    _notify_availability([product.pk])
    return incoming


@dataclass(frozen=True)
class IncomingReceipt:
    """What receiving units of a replenishment did: the replenishment as it is now, the ledger movement,
    the units received, and the pre-order lines they served (``order_id``, ``line_id``, ``quantity``), in
    order of arrival of the orders."""

    incoming: IncomingStock
    movement: StockMovement
    quantity: int
    served: list[dict]


@transaction.atomic
def incoming_receive(*, incoming: IncomingStock, quantity: int | None = None, actor=None) -> StockMovement:
    """Units of a replenishment arrived (all that is still expected, or ``quantity``). What was reserved
    for pre-orders becomes reserved stock, in order of arrival of the orders (``stock.incoming_received``
    tells their owner which lines are now served from stock); the rest becomes free stock."""
    return _incoming_receive(incoming_id=incoming.pk, quantity=quantity, actor=actor).movement


@transaction.atomic
def incoming_receive_units(
    *, incoming_id: int, quantity: int | None = None, actor=None, reference: str = ""
) -> IncomingReceipt:
    """``incoming_receive`` by id, telling everything it did (the REST API's answer)."""
    return _incoming_receive(incoming_id=incoming_id, quantity=quantity, actor=actor, reference=reference)


def _incoming_receive(
    *, incoming_id: int, quantity: int | None, actor=None, reference: str = "", up_to: bool = False
) -> IncomingReceipt | None:
    """``up_to``: receive at most ``quantity`` (what the replenishment still expects, if less), and nothing
    (None) if it was closed meanwhile: a plain receipt reported against what is expected."""
    # Lock order: the allocations waiting on it, then the stock level, then the replenishment itself.
    waiting = lock_allocations(
        Allocation.objects.filter(incoming_id=incoming_id, kind=Allocation.Kind.INCOMING)
    )
    product_id, location_id = IncomingStock.objects.values_list("product_id", "location_id").get(
        pk=incoming_id
    )
    lock_level(product_id=product_id, location_id=location_id)
    incoming = lock_incoming(incoming_id)
    if incoming.status != IncomingStock.Status.OPEN or (up_to and incoming.quantity <= 0):
        if up_to:
            return None
        raise IncomingStockClosed(details={"incoming": incoming.pk, "status": incoming.status})
    quantity = incoming.quantity if quantity is None else quantity
    _check_quantity(quantity)
    if up_to:
        quantity = min(quantity, incoming.quantity)
    if quantity > incoming.quantity:
        raise InvalidQuantity(
            f"Only {incoming.quantity} unit(s) are still expected.", details={"expected": incoming.quantity}
        )
    # Reserved units arrive first: pre-orders are served before the rest becomes free stock.
    converted = min(incoming.reserved, quantity)
    is_transfer = incoming.kind == IncomingStock.Kind.TRANSFER
    movement = _move(
        product_id=incoming.product_id,
        location_id=incoming.location_id,
        delta=quantity,
        reason=Reason.TRANSFER_IN if is_transfer else Reason.RECEIPT,
        actor=actor,
        add_reserved=converted,
        reference=reference or incoming.reference or f"incoming #{incoming.pk}",
    )
    remaining = incoming.quantity - quantity
    now = timezone.now()
    IncomingStock.objects.filter(pk=incoming.pk).update(
        quantity=remaining,
        received=F("received") + quantity,
        reserved=F("reserved") - converted,
        status=IncomingStock.Status.OPEN if remaining else IncomingStock.Status.RECEIVED,
        received_at=now,
    )
    served = _convert_waiting(
        waiting=sorted(waiting, key=lambda a: (a.created_at, a.pk)),
        location_id=incoming.location_id,
        units=converted,
    )
    incoming_received(incoming=incoming, quantity=quantity, served=served, actor=actor)
    _notify_availability([incoming.product_id])
    incoming.quantity = remaining
    incoming.received += quantity
    incoming.reserved -= converted
    incoming.status = IncomingStock.Status.OPEN if remaining else IncomingStock.Status.RECEIVED
    incoming.received_at = now
    return IncomingReceipt(incoming=incoming, movement=movement, quantity=quantity, served=served)


def _convert_waiting(*, waiting: list[Allocation], location_id: int, units: int) -> list[dict]:
    """Turn ``units`` of the oldest pre-order allocations into stock allocations (a partial arrival splits
    an allocation). What each order line got, for the owner of the orders."""
    served: list[dict] = []
    now = timezone.now()
    for allocation in waiting:
        if units <= 0:
            break
        take = min(units, allocation.quantity)
        if take == allocation.quantity:
            Allocation.objects.filter(pk=allocation.pk).update(kind=Allocation.Kind.STOCK, incoming=None)
        else:
            Allocation.objects.filter(pk=allocation.pk).update(quantity=allocation.quantity - take)
            Allocation.objects.create(
                order_id=allocation.order_id,
                line_id=allocation.line_id,
                product_id=allocation.product_id,
                location_id=location_id,
                quantity=take,
                kind=Allocation.Kind.STOCK,
                created_at=now,
            )
        units -= take
        served.append({"order_id": allocation.order_id, "line_id": allocation.line_id, "quantity": take})
    return served


@transaction.atomic
def incoming_cancel(*, incoming: IncomingStock) -> IncomingStock:
    incoming = lock_incoming(incoming.pk)
    if incoming.status != IncomingStock.Status.OPEN:
        raise IncomingStockClosed(details={"incoming": incoming.pk, "status": incoming.status})
    if incoming.reserved:
        raise InsufficientStock(
            f"{incoming.reserved} unit(s) of this replenishment are promised to pre-orders.",
            details={"reserved": incoming.reserved},
        )
    incoming.status = IncomingStock.Status.CANCELLED
    incoming.save(update_fields=["status"])
    _notify_availability([incoming.product_id])
    return incoming


def stock_reserve(*, product_id: int, location_id: int, quantity: int) -> None:
    """Compare-and-set: reserve only if enough units are free; one UPDATE, no read-modify-write."""
    _check_quantity(quantity)
    updated = StockLevel.objects.filter(
        product_id=product_id, location_id=location_id, on_hand__gte=F("reserved") + quantity
    ).update(reserved=F("reserved") + quantity, updated_at=timezone.now())
    if not updated:
        raise OutOfStock(details={"product": product_id, "location": location_id, "quantity": quantity})


def stock_release(*, product_id: int, location_id: int, quantity: int) -> None:
    _check_quantity(quantity)
    updated = StockLevel.objects.filter(
        product_id=product_id, location_id=location_id, reserved__gte=quantity
    ).update(reserved=F("reserved") - quantity, updated_at=timezone.now())
    if not updated:
        raise InsufficientStock("Fewer units are reserved than released.", details={"quantity": quantity})


def incoming_reserve(*, incoming_id: int, quantity: int) -> None:
    _check_quantity(quantity)
    updated = IncomingStock.objects.filter(
        pk=incoming_id, status=IncomingStock.Status.OPEN, quantity__gte=F("reserved") + quantity
    ).update(reserved=F("reserved") + quantity)
    if not updated:
        raise OutOfStock(details={"incoming": incoming_id, "quantity": quantity})


def incoming_release(*, incoming_id: int, quantity: int) -> None:
    _check_quantity(quantity)
    updated = IncomingStock.objects.filter(pk=incoming_id, reserved__gte=quantity).update(
        reserved=F("reserved") - quantity
    )
    if not updated:
        raise InsufficientStock("Fewer units are reserved than released.", details={"quantity": quantity})


def _back_on_shelf(*, product_id: int, location_id: int, quantity: int, reason: str, actor, reference: str):
    """Units coming back to sellable stock (put back from a parcel, or a customer return): on hand goes up."""
    _check_quantity(quantity)
    movement = _move(
        product_id=product_id,
        location_id=location_id,
        delta=quantity,
        reason=reason,
        actor=actor,
        reference=reference,
    )
    _notify_availability([product_id])
    return movement


@transaction.atomic
def stock_consume(
    *, product_id: int, location_id: int, quantity: int, actor=None, reference: str = ""
) -> StockMovement:
    """Reserved units leave with a shipment: on hand and reserved both go down, the ledger says so. The
    counters' primitive: other apps consume through ``allocations_consume_many``, which keeps the allocations
    right as well."""
    _check_quantity(quantity)
    movement = _move(
        product_id=product_id,
        location_id=location_id,
        delta=-quantity,
        reason=Reason.SHIPMENT,
        actor=actor,
        reference=reference,
        release_reserved=quantity,
    )
    _notify_availability([product_id])
    return movement


def _consume_many(
    *,
    location_id: int,
    taken: dict[int, int],
    movements: list[tuple[int, int]],
    actor=None,
    reference: str = "",
) -> list[StockMovement]:
    """Units that leave the stock at a location with their reservations (a shipment), inside a transaction
    its caller holds: ``taken`` the units per product, ``movements`` the ledger's rows to write (product,
    units), in order. The levels locked in one statement (they exist: units are reserved there), written in
    one, the movements in one. Refuses, as ``_move``, to release more than is reserved or to leave on hand
    below what stays reserved."""
    levels = lock_levels([(p, location_id) for p in taken], create=False)
    after: dict[int, tuple[int, int]] = {}  # level id: (on hand, reserved) once the units left
    for product_id, quantity in taken.items():
        level = levels.get((product_id, location_id))
        reserved = level.reserved if level is not None else 0
        if level is None or reserved < quantity:
            raise InsufficientStock(
                "Fewer units are reserved than this operation releases.",
                details={"reserved": reserved, "release": quantity},
            )
        # reserved never exceeds on hand (constraint), so on hand stays at or above what stays reserved
        after[level.pk] = (level.on_hand - quantity, reserved - quantity)
    now = timezone.now()
    if len(after) == 1:
        ((pk, (on_hand, reserved)),) = after.items()
        StockLevel.objects.filter(pk=pk).update(on_hand=on_hand, reserved=reserved, updated_at=now)
    else:
        StockLevel.objects.filter(pk__in=list(after)).update(
            on_hand=Case(*[When(pk=pk, then=Value(v[0])) for pk, v in after.items()]),
            reserved=Case(*[When(pk=pk, then=Value(v[1])) for pk, v in after.items()]),
            updated_at=now,
        )
    on_hand = {p: levels[(p, location_id)].on_hand for p in taken}
    rows = []
    for product_id, quantity in movements:
        on_hand[product_id] -= quantity
        rows.append(
            StockMovement(
                product_id=product_id,
                location_id=location_id,
                delta=-quantity,
                reason=Reason.SHIPMENT,
                reference=reference[:100],
                on_hand_after=on_hand[product_id],
                actor=actor if getattr(actor, "pk", None) else None,
            )
        )
    return StockMovement.objects.bulk_create(rows)


@transaction.atomic
def stock_return(
    *, product_id: int, location_id: int, quantity: int, actor=None, reference: str = ""
) -> StockMovement:
    """Units a customer sent back, inspected and sellable: on hand goes up (ledger reason ``return``)."""
    return _back_on_shelf(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reason=Reason.RETURN,
        actor=actor,
        reference=reference,
    )


@transaction.atomic
def stock_return_write_off(
    *, product_id: int, location_id: int, quantity: int, actor=None, reference: str = "", note: str = ""
) -> tuple[StockMovement, StockMovement]:
    """Units a customer sent back that cannot be sold again: received (reason ``return``) and written off
    as damaged (an adjustment) in the ledger, so on hand ends where it was and the ledger tells the story."""
    _check_quantity(quantity)
    received = _move(
        product_id=product_id,
        location_id=location_id,
        delta=quantity,
        reason=Reason.RETURN,
        actor=actor,
        reference=reference,
    )
    written_off = _move(
        product_id=product_id,
        location_id=location_id,
        delta=-quantity,
        reason=Reason.ADJUSTMENT,
        reason_code=StockMovement.AdjustmentCode.DAMAGED,
        actor=actor,
        reference=reference,
        note=note or "Customer return written off",
    )
    return received, written_off


def ledger_carry_forward(cursor, partition: str, lo, hi) -> int:
    """Before a month of the ledger is archived (common/partitions.py): one ``carried_forward`` movement per
    product and location whose movements that month do not add up to zero, dated the first instant of the
    next month, with the sum and the last balance. The ledger kept still adds up to the stock on hand (the
    stock audit stays clean). Runs in the archive's transaction, on its cursor."""
    # ``partition`` is a name from PostgreSQL's catalogue (common.partitions), not input.
    sql = (
        "INSERT INTO inventory_stockmovement (product_id, location_id, delta, reason, reason_code, "  # noqa: S608
        "reference, note, on_hand_after, actor_id, created_at) "
        "SELECT product_id, location_id, sum(delta), %s, '', %s, '', "
        "(array_agg(on_hand_after ORDER BY created_at DESC, id DESC))[1], NULL, %s "
        f'FROM "{partition}" GROUP BY product_id, location_id HAVING sum(delta) <> 0'
    )
    cursor.execute(sql, [StockMovement.Reason.CARRIED_FORWARD, f"archive:{partition}"[:100], hi])
    return cursor.rowcount
