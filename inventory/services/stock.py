"""Write operations of the inventory app: every change to ``on_hand`` writes its ledger movement in the
same transaction; reservations are compare-and-set updates, so stock is never oversold."""

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..events import availability_changed, incoming_received
from ..exceptions import IncomingStockClosed, InsufficientStock, InvalidQuantity, OutOfStock
from ..locks import lock_allocations, lock_incoming, lock_level
from ..models import Allocation, IncomingStock, Location, Product, StockLevel, StockMovement

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
    _check_quantity(quantity)
    remaining = quantity
    movement = None
    expected = (
        IncomingStock.objects.filter(product=product, location=location, status=IncomingStock.Status.OPEN)
        .order_by("expected_on", "pk")
        .values_list("pk", "quantity")
    )
    for incoming_id, still_expected in expected:
        if remaining <= 0:
            break
        take = min(remaining, still_expected)
        if take > 0:
            movement = _incoming_receive(
                incoming_id=incoming_id, quantity=take, actor=actor, reference=reference
            )
            remaining -= take
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


@transaction.atomic
def incoming_receive(*, incoming: IncomingStock, quantity: int | None = None, actor=None) -> StockMovement:
    """Units of a replenishment arrived (all that is still expected, or ``quantity``). What was reserved
    for pre-orders becomes reserved stock, in order of arrival of the orders (``stock.incoming_received``
    tells their owner which lines are now served from stock); the rest becomes free stock."""
    return _incoming_receive(incoming_id=incoming.pk, quantity=quantity, actor=actor)


def _incoming_receive(
    *, incoming_id: int, quantity: int | None, actor=None, reference: str = ""
) -> StockMovement:
    # Lock order: the allocations waiting on it, then the stock level, then the replenishment itself.
    waiting = lock_allocations(
        Allocation.objects.filter(incoming_id=incoming_id, kind=Allocation.Kind.INCOMING)
    )
    product_id, location_id = IncomingStock.objects.values_list("product_id", "location_id").get(
        pk=incoming_id
    )
    lock_level(product_id=product_id, location_id=location_id)
    incoming = lock_incoming(incoming_id)
    if incoming.status != IncomingStock.Status.OPEN:
        raise IncomingStockClosed(details={"incoming": incoming.pk, "status": incoming.status})
    quantity = incoming.quantity if quantity is None else quantity
    _check_quantity(quantity)
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
    IncomingStock.objects.filter(pk=incoming.pk).update(
        quantity=remaining,
        reserved=F("reserved") - converted,
        status=IncomingStock.Status.OPEN if remaining else IncomingStock.Status.RECEIVED,
        received_at=timezone.now(),
    )
    served = _convert_waiting(
        waiting=sorted(waiting, key=lambda a: (a.created_at, a.pk)),
        location_id=incoming.location_id,
        units=converted,
    )
    incoming_received(incoming=incoming, quantity=quantity, served=served, actor=actor)
    _notify_availability([incoming.product_id])
    return movement


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
    incoming = IncomingStock.objects.select_for_update().get(pk=incoming.pk)
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
    counters' primitive: other apps consume through ``allocations_consume``, which keeps the allocations
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
