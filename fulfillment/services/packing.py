"""The pack station: find the order (its number or its tote), scan every unit into the open parcel,
close the parcel with a box and a weight. Closing creates the shipment in ``shipping`` and has inventory
move the units from reserved to consumed stock, in the same transaction; ``parcel.closed`` tells the
order's owner after commit (carrier choice by the shipping rules, label, timeline)."""

import re

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from common.eventlog import emit_many
from common.exceptions import DomainError
from inventory import services as inventory_services
from inventory.events import availability_event
from inventory.selectors import code_names, locations_for_user, product_by_code
from shipping import services as shipping_services

from ..events import preparation_new_event
from ..locks import lock_last_scan, lock_open_parcel, lock_preparation, lock_preparation_lines
from ..models import Box, Parcel, ParcelItem, Preparation, PreparationLine, PreparationStatus, ScanEvent
from .preparation import preparation_refresh

TOTE_CODE = re.compile(r"^W(\d+)-T(\d+)$")
MAX_WEIGHT_G = 70_000


class PackRefused(DomainError):
    code = "pack_refused"
    status_code = 422


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def pack_lookup(*, code: str, user) -> Preparation:
    """The preparation a scanned order number or tote code designates, at the user's locations."""
    scanned = (code or "").strip().upper()
    if not scanned:
        raise PackRefused(_("Scan an order number or a tote."), code="empty_scan")
    match = TOTE_CODE.match(scanned)
    if match:
        preps = Preparation.objects.filter(wave_id=int(match[1]), tote=int(match[2]))
    else:
        preps = Preparation.objects.filter(order_number=scanned)
    # whether each is at one of the user's locations, in the same statement
    mine_filter = Exists(locations_for_user(user=user).filter(pk=OuterRef("location_id")))
    preps = list(
        preps.exclude(status=PreparationStatus.CANCELLED)
        .select_related("location")
        .annotate(mine=mine_filter)
        .order_by("-pk")
    )
    if not preps:
        raise PackRefused(_("No order to pack is known by %(code)s.") % {"code": scanned}, code="not_found")
    mine = [p for p in preps if p.mine]
    if not mine:
        raise PackRefused(
            _("Order %(order)s is prepared at %(location)s, not at your locations.")
            % {"order": preps[0].order_number, "location": preps[0].location.name},
            code="other_location",
        )
    prep = mine[0]
    if prep.kind == Preparation.Kind.PICKUP:
        raise PackRefused(
            _(
                "Order %(order)s is collected in this store: no parcel. "
                "Set it aside from the click & collect page."
            )
            % {"order": prep.order_number},
            code="pickup_order",
        )
    if prep.status in Preparation.OPEN:
        raise PackRefused(
            _("Order %(order)s is not fully picked yet.") % {"order": prep.order_number}, code="not_picked"
        )
    if prep.status == PreparationStatus.PACKED:
        raise PackRefused(
            _("Order %(order)s is already packed.") % {"order": prep.order_number}, code="already_packed"
        )
    return prep


def _locked(*, preparation: Preparation, actor) -> Preparation:
    """The preparation locked, after the checks every pack station operation makes. The actor's scope is
    checked by the locking statement itself (one statement, not a lock and then a look-up)."""
    if actor is None:
        prep = lock_preparation(preparation.pk)
    else:
        prep = lock_preparation(preparation.pk, locations=locations_for_user(user=actor))
        if prep is None:
            other = Preparation.objects.select_related("location").filter(pk=preparation.pk).first()
            if other is None:
                raise PackRefused(_("No such order to pack at your locations."), code="not_found")
            raise PackRefused(
                _("Order %(order)s is prepared at %(location)s, not at your locations.")
                % {"order": other.order_number, "location": other.location.name},
                code="other_location",
            )
    if prep.status == PreparationStatus.CANCELLED:
        raise PackRefused(
            _("Order %(order)s was cancelled: put its units back in their bins.")
            % {"order": prep.order_number},
            code="cancelled",
        )
    if prep.status == PreparationStatus.PACKED:
        raise PackRefused(
            _("Order %(order)s is already packed.") % {"order": prep.order_number}, code="already_packed"
        )
    if prep.status in Preparation.OPEN:
        raise PackRefused(
            _("Order %(order)s is not fully picked yet.") % {"order": prep.order_number}, code="not_picked"
        )
    return prep


def open_parcel(*, preparation: Preparation) -> Parcel | None:
    return preparation.parcels.filter(status=Parcel.Status.OPEN).first()


@transaction.atomic
def pack_scan(*, preparation: Preparation, code: str, quantity: int = 1, actor=None) -> ParcelItem:
    """A unit scanned into the open parcel (opened on the first scan). Refused when the product is not in
    the order or every unit of it is already packed."""
    prep = _locked(preparation=preparation, actor=actor)
    scanned = (code or "").strip().upper()
    if not scanned:
        raise PackRefused(_("Scan a product."), code="empty_scan")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise PackRefused(_("Pack at least one unit."), code="invalid_quantity")
    # Every line of the preparation, locked (under its preparation's lock: nobody else waits on them): the
    # product's are scanned into the parcel, and the pack station's answer shows them all (``prep.lines``).
    # The scanned code is matched against the copies of the SKU and EAN the lines keep; the catalogue is
    # read only for a code none of them has (not in the order, or an EAN changed since the order came in).
    every_line = lock_preparation_lines(prep.pk)
    lines = [x for x in every_line if code_names(scanned, sku=x.sku, ean=x.ean)]
    product = None
    if not lines:
        product = product_by_code(code=scanned)
        lines = [x for x in every_line if x.product_id == product.pk] if product else []
    if not lines:
        raise PackRefused(
            _("%(code)s is not in order %(order)s. Put it aside.")
            % {"code": product.sku if product else scanned, "order": prep.order_number},
            code="not_in_order",
        )
    line = next((x for x in lines if x.picked - x.packed > 0), None)
    left = sum(x.picked - x.packed for x in lines)
    if line is None or quantity > left:
        raise PackRefused(
            _("Every unit of %(sku)s in order %(order)s is already packed (%(left)s left to pack).")
            % {"sku": lines[0].sku, "order": prep.order_number, "left": left},
            code="over_pack",
            details={"left": left},
        )
    # Every parcel of the preparation in one read (written only under its lock): the open one, the next
    # number, and the closed ones with what the pack station's answer shows of them (``prep.parcels.all()``).
    parcels = list(prep.parcels.select_related("shipment__return_label", "box"))
    parcel = next((p for p in parcels if p.status == Parcel.Status.OPEN), None)
    new_parcel = parcel is None
    if new_parcel:
        seq = max((p.seq for p in parcels), default=0) + 1
        parcel = Parcel.objects.create(preparation=prep, seq=seq, opened_by=_actor(actor))
        parcels.append(parcel)
    # The parcel's items are written under the preparation's lock only (scan, undo, close): read all of them
    # once (a parcel opened now has none), then created or added to, without get_or_create's savepoint;
    # the pack station's answer shows them (``parcel.items.all()`` reads no more).
    by_line = {line.pk: line for line in every_line}
    items = [] if new_parcel else list(ParcelItem.objects.filter(parcel=parcel))
    for existing in items:
        existing.parcel, existing.line = parcel, by_line[existing.line_id]
    remaining = quantity
    item = None
    for line in lines:
        take = min(remaining, line.picked - line.packed)
        if take <= 0:
            continue
        PreparationLine.objects.filter(pk=line.pk).update(packed=F("packed") + take)
        line.packed += take  # as written (the line is locked)
        item = next((i for i in items if i.line_id == line.pk), None)
        if item is None:
            item = ParcelItem.objects.create(parcel=parcel, line=line, quantity=take)
            item.parcel, item.line = parcel, line
            items.append(item)
        else:
            ParcelItem.objects.filter(pk=item.pk).update(quantity=F("quantity") + take)
            item.quantity += take
        ScanEvent.objects.create(
            line=line, action=ScanEvent.Action.PACK, quantity=take, parcel=parcel, actor=_actor(actor)
        )
        remaining -= take
        if remaining == 0:
            break
    # What the pack station shows next, as written here: the preparation (``item.parcel.preparation``), its
    # open parcel and every line of it with its packed units (``prep.lines.all()`` reads no more).
    prep._prefetched_objects_cache = {"lines": every_line, "parcels": parcels}
    parcel._prefetched_objects_cache = {"items": sorted(items, key=lambda i: i.pk)}
    return item


@transaction.atomic
def pack_undo(*, preparation: Preparation, actor=None) -> ScanEvent:
    """Take the last unit the user scanned back out of the open parcel."""
    prep = _locked(preparation=preparation, actor=actor)
    parcel = open_parcel(preparation=prep)
    scan = (
        lock_last_scan(
            ScanEvent.objects.filter(
                parcel=parcel, action=ScanEvent.Action.PACK, undone_at__isnull=True, actor=_actor(actor)
            )
        )
        if parcel
        else None
    )
    if scan is None:
        raise PackRefused(_("There is no scan of yours to undo in the open parcel."), code="nothing_to_undo")
    PreparationLine.objects.filter(pk=scan.line_id).update(packed=F("packed") - scan.quantity)
    item = ParcelItem.objects.get(parcel=parcel, line_id=scan.line_id)
    if item.quantity == scan.quantity:
        item.delete()
    else:
        ParcelItem.objects.filter(pk=item.pk).update(quantity=F("quantity") - scan.quantity)
    scan.undone_at = timezone.now()
    scan.save(update_fields=["undone_at"])
    if not parcel.items.exists():
        parcel.delete()
    return scan


def estimated_weight(*, parcel: Parcel, box: Box | None, items: list[ParcelItem] | None = None) -> int:
    """The parcel's contents' weight plus the box's tare; ``items`` (with their lines) when already read."""
    if items is None:
        items = parcel.items.select_related("line")
    weight = sum(item.line.weight_g * item.quantity for item in items)
    return weight + (box.tare_g if box else 0)


def parcel_units_leave(*, prep: Preparation, items, shipment, weight_g: int, actor=None, **payload) -> None:
    """A closed parcel's units leave the stock and its events are written: the pack station's close and a
    3PL's shipment confirmation alike. ``items``: (preparation line, quantity) pairs, the line locked by the
    caller under the preparation's lock. Each component of a kit consumes its own allocations
    (``product_id``); every line's in one set (``allocations_consume_many``: five statements a parcel).
    Then one ``stock.availability_changed`` for every product that left and ``parcel.closed`` (with
    ``payload``), in one statement: one availability event per parcel, not one per line."""
    inventory_services.allocations_consume_many(
        location_id=prep.location_id,
        items=[
            inventory_services.Consumption(line_id=line.order_line_id, quantity=q, product_id=line.product_id)
            for line, q in sorted(items, key=lambda i: (i[0].order_line_id, i[0].product_id))
        ],
        actor=actor,
        reference=prep.order_number,
        notify=False,
    )
    emit_many(
        [
            availability_event(product_ids=[line.product_id for line, _quantity in items]),
            preparation_new_event(
                "parcel.closed",
                prep=prep,
                actor=actor,
                shipment_id=shipment.pk,
                parcel=shipment.number,
                weight_g=weight_g,
                lines=[{"line_id": line.order_line_id, "sku": line.sku, "quantity": q} for line, q in items],
                **payload,
            ),
        ],
        rows=False,
    )


@transaction.atomic
def parcel_close(*, preparation: Preparation, box: Box | None, weight_g: int | None, actor=None):
    """Close the open parcel: its shipment is created (the label follows with the carrier), the units move
    from reserved to consumed stock (``orders`` receives ``parcel_closed``), and the preparation is packed
    when nothing is left. Two packers closing at once: the second finds no open parcel and is refused."""
    prep = _locked(preparation=preparation, actor=actor)
    parcel = lock_open_parcel(prep.pk)
    if parcel is None:
        raise PackRefused(
            _("There is no open parcel for order %(order)s: it was closed already.")
            % {"order": prep.order_number},
            code="already_closed",
        )
    items = list(parcel.items.select_related("line"))
    if not items:
        raise PackRefused(_("The parcel is empty: scan its units first."), code="empty_parcel")
    if box is not None and not box.active:
        raise PackRefused(_("This box is no longer used."), code="invalid_box")
    if weight_g is None:
        weight_g = estimated_weight(parcel=parcel, box=box, items=items)
    if (
        not isinstance(weight_g, int)
        or isinstance(weight_g, bool)
        or weight_g <= 0
        or weight_g > MAX_WEIGHT_G
    ):
        raise PackRefused(
            _("Enter the parcel's weight in grams (1 to %(max)s).") % {"max": MAX_WEIGHT_G},
            code="invalid_weight",
        )
    lines = [
        shipping_services.ShipmentLineSpec(
            order_line_id=item.line.order_line_id,
            product_id=item.line.product_id,
            sku=item.line.sku,
            quantity=item.quantity,
        )
        for item in items
    ]
    # No savepoint of its own: a duplicate number (IntegrityError) ends this whole close at once, whose own
    # atomic block rolls back (a transaction, or its caller's savepoint); nothing runs in between.
    try:
        shipment = shipping_services.shipment_create(
            number=f"{prep.order_number}-{prep.location_id}-{parcel.seq}",
            order_id=prep.order_id,
            location_id=prep.location_id,
            service_id=prep.service_id,
            weight_g=weight_g,
            box=box.code if box else "",
            lines=lines,
            actor=actor,
        )
    except IntegrityError as exc:
        raise PackRefused(_("This parcel was closed already."), code="already_closed") from exc
    parcel.status = Parcel.Status.CLOSED
    parcel.box = box
    parcel.weight_g = weight_g
    parcel.shipment = shipment
    parcel.closed_at = timezone.now()
    parcel.save(update_fields=["status", "box", "weight_g", "shipment", "closed_at"])
    # The units leave the stock now (lock order: preparation, shipment, then allocations and stock levels).
    parcel_units_leave(
        prep=prep,
        items=[(item.line, item.quantity) for item in items],
        shipment=shipment,
        weight_g=weight_g,
        actor=actor,
    )
    # Every line of the preparation, for its new status and for the pack station's answer (``prep.lines``,
    # with ``shipment.parcel.preparation``: the preparation as this close left it, its parcel closed).
    prep._prefetched_objects_cache = {"lines": list(prep.lines.all())}
    # no parcel is open now: this one was the only one (a scan opens one only when none is, and parcels are
    # opened, emptied and closed under the preparation's lock, held here)
    preparation_refresh(preparation=prep, open_parcel=False)
    parcel.preparation = prep
    return shipment
