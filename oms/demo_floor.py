"""The demo's orders go through the real floor and the real carrier: picked in a wave, packed into parcels
(the shipment, the consumed stock and the invoice follow), labelled by the sandbox carrier, handed over with
a manifest, then tracked. So every demo order's status agrees with its reservations, preparations and
parcels, as staff will find it on the pages.

An order meant to be further along (out for delivery, delivered) was handed over earlier: its rows are
moved back in time together (order, reservations, timeline, preparation, parcels, messages), then one
tracking poll asks the sandbox carrier, whose news depends on the hand-over time, and moves it on. Invoices
are not moved: they are immutable and dated the day they were issued."""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from common.models import DomainEvent
from customers.models import Customer, Notification
from fulfillment import services as floor
from fulfillment.models import Box, Parcel, Preparation, PreparationStatus, ScanEvent, Wave
from inventory.models import Allocation
from orders.models import Order, OrderLocation
from shipping import shipments as dispatch
from shipping.carriers import sandbox
from shipping.models import Manifest, Shipment, ShipmentStatus


def _preparations(order: Order, kind: str | None = None):
    qs = Preparation.objects.filter(order_id=order.pk).exclude(status=PreparationStatus.CANCELLED)
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.order_by("pk"))


def _pick(prep: Preparation, *, units: int | None = None) -> None:
    """Pick the preparation's units (all, or the first ``units``), scanning bin then product."""
    wave = floor.wave_pick_single(preparation=prep)
    left = units
    while (step := floor.current_step(wave=wave)) is not None and (left is None or left > 0):
        if step.bin_code:
            floor.pick_scan(wave=wave, code=step.bin_code)
        quantity = step.quantity - step.picked if left is None else min(left, step.quantity - step.picked)
        floor.pick_scan(wave=wave, code=step.ean or step.sku, quantity=quantity, bin_confirmed=step.bin_code)
        if left is not None:
            left -= quantity


def _pack(prep: Preparation, box: Box | None) -> Shipment:
    prep.refresh_from_db()
    for line in prep.lines.all():
        left = line.picked - line.packed
        if left > 0:
            floor.pack_scan(preparation=prep, code=line.sku, quantity=left)
    return floor.parcel_close(preparation=prep, box=box, weight_g=None)


def start_preparation(order: Order) -> None:
    """The first unit picked: the order is in preparation."""
    prep = next(iter(_preparations(order, Preparation.Kind.SHIP)), None)
    if prep is not None:
        _pick(prep, units=1)


def ship(order: Order, *, only_first: bool = False) -> list[Shipment]:
    """Pick, pack, label and hand over the order's parcels (or only its first location's)."""
    box = Box.objects.filter(code="m", active=True).first()
    made = []
    preps = _preparations(order, Preparation.Kind.SHIP)
    for prep in preps[:1] if only_first else preps:
        if prep.status == PreparationStatus.TO_PICK:
            _pick(prep)
        made.append(_pack(prep, box))
    for shipment in made:
        dispatch.label_create(shipment_id=shipment.pk)  # already made by the on-commit task when eager
    for shipment in Shipment.objects.filter(pk__in=[s.pk for s in made]).select_related(
        "location", "service__carrier"
    ):
        if shipment.status == ShipmentStatus.LABELLED and shipment.manifest_id is None:
            dispatch.manifest_create(location=shipment.location, carrier=shipment.service.carrier)
    return list(Shipment.objects.filter(order=order).order_by("pk"))


def ready_for_pickup(order: Order) -> bool:
    """Click & collect from the store's own shelves: picked and set aside, the customer is told."""
    prep = next(iter(_preparations(order, Preparation.Kind.PICKUP)), None)
    if prep is None or _preparations(order, Preparation.Kind.SHIP):
        return False
    _pick(prep)
    floor.pickup_mark_ready(preparation=prep)
    return True


def carrier_phase_offset(shipment: Shipment, phase: str) -> timedelta:
    """How long ago the parcel must have been handed over for the sandbox carrier to be at ``phase`` now:
    ``transit`` (taken in charge, not yet out), ``out`` (out for delivery or at the relay), ``delivered``."""
    origin = timezone.now()
    mode = shipment.service.delivery_mode if shipment.service_id else "home"
    steps = sandbox.timeline(shipment.tracking_number, handed_over_at=origin, mode=mode)
    by_code = {code: at - origin for at, code in steps}
    if phase == "transit":
        return by_code["SBX_ET1"] + timedelta(minutes=30)
    if phase == "out":
        start = by_code.get("SBX_MD", by_code.get("SBX_AG"))
        return start + timedelta(minutes=30)
    return steps[-1][0] - origin + timedelta(hours=2)


def move_back(order: Order, delta: timedelta) -> None:
    """Every timestamp of the order's rows ``delta`` earlier, as if it had all happened then."""

    def shift(qs, *fields):
        qs.update(**{f: F(f) - delta for f in fields})

    shift(Order.objects.filter(pk=order.pk), "created_at", "updated_at")
    placed = Order.objects.values_list("created_at", flat=True).get(pk=order.pk)
    Customer.objects.filter(pk=order.customer_id, created_at__gt=placed).update(created_at=placed)
    shift(OrderLocation.objects.filter(order_id=order.pk), "created_at")
    shift(DomainEvent.objects.filter(order_id=order.pk), "created_at")
    allocations = Allocation.objects.filter(order_id=order.pk)
    shift(allocations, "created_at")
    shift(allocations.exclude(consumed_at=None), "consumed_at")
    preps = Preparation.objects.filter(order_id=order.pk)
    shift(preps, "created_at")
    for field in ("picked_at", "packed_at", "ready_at"):
        shift(preps.exclude(**{field: None}), field)
    waves = Wave.objects.filter(preparations__order_id=order.pk).distinct()
    shift(Wave.objects.filter(pk__in=list(waves.values_list("pk", flat=True))), "released_at")
    for field in ("started_at", "completed_at"):
        shift(
            Wave.objects.filter(pk__in=list(waves.values_list("pk", flat=True))).exclude(**{field: None}),
            field,
        )
    shift(ScanEvent.objects.filter(line__preparation__order_id=order.pk), "at")
    parcels = Parcel.objects.filter(preparation__order_id=order.pk)
    shift(parcels, "created_at")
    shift(parcels.exclude(closed_at=None), "closed_at")
    shipments = Shipment.objects.filter(order_id=order.pk)
    shift(shipments, "created_at")
    shift(shipments.exclude(shipped_at=None), "shipped_at")
    shipments.update(next_check_at=None)  # due for a check now
    manifest_ids = set(shipments.exclude(manifest=None).values_list("manifest_id", flat=True))
    shift(Manifest.objects.filter(pk__in=manifest_ids), "created_at")
    notifications = Notification.objects.filter(order_id=order.pk)
    shift(notifications, "created_at")
    shift(notifications.exclude(sent_at=None), "sent_at")


def track_all() -> dict:
    """One tracking poll, as beat runs it every ten minutes, its batches applied here (the demo goes on with
    the parcels' news, whether or not a worker runs)."""
    return dispatch.tracking_poll(inline=True)
