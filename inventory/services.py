"""Write operations of the inventory app: every change to ``on_hand`` writes its ledger movement in the
same transaction; reservations are compare-and-set updates, so stock is never oversold."""

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .exceptions import IncomingStockClosed, InsufficientStock, InvalidQuantity, OutOfStock
from .models import IncomingStock, Location, Product, StockLevel, StockMovement
from .signals import availability_changed, incoming_stock_received

Reason = StockMovement.Reason


@transaction.atomic
def location_save(*, location: Location, data: dict) -> Location:
    """Create or update a location from validated form data."""
    for field, value in data.items():
        setattr(location, field, value)
    location.full_clean()
    location.save()
    return location


@transaction.atomic
def product_create(*, data: dict) -> Product:
    product = Product(**data)
    product.full_clean()
    product.save()
    return product


# The fields the catalogue page edits (the SKU is fixed once a product exists: orders and the ledger name
# it). [carriers20] customs_code and origin_country join this list at merge.
PRODUCT_FIELDS = (
    "name",
    "ean",
    "price",
    "vat_rate",
    "weight_g",
    "length_mm",
    "width_mm",
    "height_mm",
    "image",
)


@transaction.atomic
def product_save(*, product: Product, data: dict) -> Product:
    """Create (``product`` unsaved, ``data`` with its ``sku``) or change a product of the catalogue. The
    fields are checked by the model (EAN-13 check digit, French VAT rates, unique SKU and EAN)."""
    if product.pk is None and "sku" in data:
        product.sku = data["sku"]
    for field in PRODUCT_FIELDS:
        if field in data:
            setattr(product, field, data[field])
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_set_active(*, product: Product, active: bool) -> Product:
    """Archive a product (it can no longer be ordered; its stock, orders and ledger stay) or bring it back."""
    Product.objects.filter(pk=product.pk).update(active=active)
    product.active = active
    return product


@transaction.atomic
def catalogue_import_start(*, file, dry_run: bool, user):
    """Keep the uploaded file and queue its check or import after commit (inventory/imports.py)."""
    from .models import ProductImport
    from .tasks import catalogue_import as catalogue_import_task

    job = ProductImport.objects.create(file=file, filename=file.name[:255], dry_run=dry_run, created_by=user)
    job_id = job.pk
    transaction.on_commit(lambda: catalogue_import_task.delay(job_id))
    return job


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
    availability_changed.send(sender=StockLevel, product_ids=sorted(set(product_ids)))


def _locked_level(*, product_id: int, location_id: int) -> StockLevel:
    StockLevel.objects.get_or_create(product_id=product_id, location_id=location_id)
    return StockLevel.objects.select_for_update().get(product_id=product_id, location_id=location_id)


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
    """Goods received at a location: on hand goes up, the ledger says so."""
    _check_quantity(quantity)
    movement = _move(
        product_id=product.pk,
        location_id=location.pk,
        delta=quantity,
        reason=Reason.RECEIPT,
        actor=actor,
        reference=reference,
    )
    if bin_code:
        StockLevel.objects.filter(product=product, location=location).update(bin_code=bin_code)
    _notify_availability([product.pk])
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
    """Units of a replenishment arrived. What was reserved for pre-orders becomes reserved stock, and
    ``incoming_stock_received`` lets the orders waiting on it be allocated in order of arrival."""
    incoming = IncomingStock.objects.select_for_update().get(pk=incoming.pk)
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
        reference=incoming.reference or f"incoming #{incoming.pk}",
    )
    remaining = incoming.quantity - quantity
    IncomingStock.objects.filter(pk=incoming.pk).update(
        quantity=remaining,
        reserved=F("reserved") - converted,
        status=IncomingStock.Status.OPEN if remaining else IncomingStock.Status.RECEIVED,
        received_at=timezone.now(),
    )
    incoming_stock_received.send(
        sender=IncomingStock,
        incoming_id=incoming.pk,
        product_id=incoming.product_id,
        location_id=incoming.location_id,
        converted=converted,
    )
    _notify_availability([incoming.product_id])
    return movement


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


@transaction.atomic
def stock_write_off_reserved(
    *, product_id: int, location_id: int, quantity: int, reason_code: str, actor=None, reference="", note=""
) -> StockMovement:
    """Reserved units found missing or damaged while picking: they leave on hand and their reservation in
    one movement (the order that held them is re-sourced by its owner)."""
    _check_quantity(quantity)
    _check_reason_code(reason_code)
    movement = _move(
        product_id=product_id,
        location_id=location_id,
        delta=-quantity,
        reason=Reason.ADJUSTMENT,
        reason_code=reason_code,
        actor=actor,
        reference=reference,
        note=note,
        release_reserved=quantity,
    )
    _notify_availability([product_id])
    return movement


@transaction.atomic
def stock_put_back(
    *, product_id: int, location_id: int, quantity: int, actor=None, reference=""
) -> StockMovement:
    """Units of a parcel that will not leave (its order was cancelled after packing) go back on the shelf."""
    return _back_on_shelf(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reason=Reason.UNPACKED,
        actor=actor,
        reference=reference,
    )


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
    """Reserved units leave with a shipment: on hand and reserved both go down, the ledger says so."""
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
