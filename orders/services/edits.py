"""Changes to an order after it was placed: edits before picking starts, and units cancelled before they
ship.

``order_edit`` (back office, API, a channel's ``orders/updated``): change quantities, add or remove lines,
replace a product, change the address, the delivery mode or the relay point. The order is locked, every
reservation not consumed is given back and the whole new order is sourced and promised again (the same
rules as the intake, with their explanation), then reserved by inventory's compare-and-set: never
oversold; on any refusal the transaction rolls back and nothing is half-written. Refused once picking has
started (the message says what to do instead).

``order_lines_cancel``: cancel some units of some lines at any time before they ship (staff or channel).
Their reservations are released (the newest first, pre-orders first); picking is told through the
preparation's sync (a unit already picked is put back to its bin by the picker: the pick screen says
so); a unit already packed in a parcel still at the dock goes back on the shelf through the put-back path.

Both write an ``OrderChange`` (who, when, what, the money difference) and their events in the same
transaction; everything else follows from the log: the locations' preparations (``orders.handover``), the
customer's message (``orders.notifications``), credit notes of what was invoiced and is no more
(``invoicing.issue``), refunds of what was paid beyond what is owed (``orders.payments``), the channels'
availability feed.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import services as inventory_services
from inventory.events import availability_event
from inventory.exceptions import OutOfStock
from inventory.models import Allocation, Location, Product
from shipping.models import ShipmentLine, ShipmentStatus

from ..exceptions import EditRefused, InvalidOrder, UnknownProduct
from ..locks import lock_order
from ..models import (
    CANCELLABLE,
    DeliveryMode,
    Order,
    OrderChange,
    OrderLine,
    OrderLocation,
    OrderStatus,
)
from . import lifecycle
from .events import events_write, order_event
from .intake import MAX_ATTEMPTS, LineInput, OrderInput, _delivery_fields, _destination, _validate
from .sourcing import LineRequest, decide, destination_of

CENT = Decimal("0.01")
# Before picking starts: the order's units are still only reservations.
EDITABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK})


@dataclass
class EditInput:
    """What to change; everything left out stays. ``quantities``: {line_no: new quantity} (0 removes the
    line); ``replace``: {line_no: sku} (the line's units become another product, at its catalogue price
    unless ``prices`` gives one); ``add``: new lines; ``delivery``: the intake's delivery dict (mode and
    address, relay point or store); ``shipping_fee``: the new charge incl. VAT."""

    quantities: dict[int, int] = field(default_factory=dict)
    replace: dict[int, str] = field(default_factory=dict)
    add: list[LineInput] = field(default_factory=list)
    delivery: dict | None = None
    shipping_fee: Decimal | None = None
    reason: str = ""

    def is_empty(self) -> bool:
        return not (
            self.quantities or self.replace or self.add or self.delivery or self.shipping_fee is not None
        )


class _StockMoved(Exception):
    pass


def edit_refusal(order: Order) -> str | None:
    """Why the order cannot be edited now, and what to do instead (None when it can)."""
    if order.status in EDITABLE:
        return None
    if order.status == OrderStatus.IN_PREPARATION:
        return _(
            "Picking has started for order %(number)s: its lines and delivery can no longer be edited. "
            "Cancel the units the customer no longer wants (picked ones go back to their bin), or let it "
            "ship and open a return or an exchange."
        ) % {"number": order.number}
    if order.status == OrderStatus.CANCELLED:
        return _("Order %(number)s is cancelled: place a new order.") % {"number": order.number}
    return _(
        "Order %(number)s has shipped: it can no longer be edited. Open a return or an exchange instead."
    ) % {"number": order.number}


def _refuse_unless_editable(order: Order) -> None:
    reason = edit_refusal(order)
    if reason is not None:
        raise EditRefused(reason, details={"number": order.number, "status": order.status})


def _current_delivery(order: Order) -> dict:
    if order.delivery_mode == DeliveryMode.STORE:
        return {"mode": "store", "store": order.pickup_location.code if order.pickup_location_id else ""}
    address = {
        "name": order.ship_name,
        "company": order.ship_company,
        "line1": order.ship_line1,
        "line2": order.ship_line2,
        "postcode": order.ship_postcode,
        "city": order.ship_city,
        "country": order.ship_country,
        "phone": order.ship_phone,
    }
    if order.ship_latitude is not None:
        address["latitude"] = order.ship_latitude
        address["longitude"] = order.ship_longitude
    if order.delivery_mode == DeliveryMode.RELAY:
        return {"mode": "relay", "relay_point": {**address, **(order.relay_point or {})}}
    return {"mode": "home", "address": address}


@dataclass
class _Line:
    """A line of the order as the edit leaves it: an existing row (``row``) or a new one."""

    sku: str
    quantity: int
    product: Product
    unit_price: Decimal
    row: OrderLine | None = None


def order_edit(*, order: Order, edit: EditInput, actor=None, source: str = "backoffice") -> OrderChange:
    """Apply ``edit`` to an order whose picking has not started (see the module's docstring). Raises
    ``EditRefused`` (409), ``InvalidOrder`` / ``UnknownProduct`` (422) or ``OutOfStock`` (409) and writes
    nothing when the edit cannot be made whole."""
    if edit.is_empty():
        raise InvalidOrder(str(_("Nothing to change.")), details={"edit": ["Give at least one change."]})
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic(durable=not transaction.get_connection().in_atomic_block):
                return _edit(order=order, edit=edit, actor=actor, source=source)
        except _StockMoved:
            continue
    raise OutOfStock(str(_("Not enough stock for the edited order.")), details={"number": order.number})


def _edit(*, order: Order, edit: EditInput, actor, source: str) -> OrderChange:
    order = lock_order(order.pk, related=("channel", "customer", "pickup_location"))
    _refuse_unless_editable(order)
    if order.holds and order.status == OrderStatus.RECEIVED:
        pass  # an order on hold is edited like any other: its reservations are kept, picking waits
    rows = {line.line_no: line for line in OrderLine.objects.filter(order=order).select_related("product")}
    unknown = sorted(set(edit.quantities) | set(edit.replace) - set(rows))
    unknown = [n for n in unknown if n not in rows]
    if unknown:
        raise InvalidOrder(
            str(_("No line %(lines)s on this order.")) % {"lines": ", ".join(map(str, unknown))},
            details={"lines": unknown},
        )
    skus = {sku for sku in edit.replace.values()} | {line.sku for line in edit.add}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
    missing = sorted(skus - set(products))
    if missing:
        raise UnknownProduct(
            "Unknown or inactive SKU: " + ", ".join(missing) + ".", details={"skus": missing}
        )

    changes: list[dict] = []
    lines: list[_Line] = []
    for line_no, row in sorted(rows.items()):
        quantity = edit.quantities.get(line_no, row.quantity)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise InvalidOrder(
                str(_("Line %(line)s: the quantity must be a whole number, 0 to remove it."))
                % {"line": line_no},
                details={"quantities": {str(line_no): [str(quantity)]}},
            )
        if line_no in edit.replace and edit.replace[line_no] != row.sku:
            product = products[edit.replace[line_no]]
            changes.append(
                {
                    "kind": "replace",
                    "line": line_no,
                    "before": row.sku,
                    "after": product.sku,
                    "quantity": quantity,
                }
            )
            lines.append(
                _Line(sku=row.sku, quantity=0, product=row.product, unit_price=row.unit_price, row=row)
            )
            if quantity:
                lines.append(
                    _Line(sku=product.sku, quantity=quantity, product=product, unit_price=product.price)
                )
            continue
        if quantity != row.quantity:
            if quantity == 0:
                changes.append({"kind": "remove", "line": line_no, "sku": row.sku, "quantity": row.quantity})
            else:
                changes.append(
                    {
                        "kind": "quantity",
                        "line": line_no,
                        "sku": row.sku,
                        "before": row.quantity,
                        "after": quantity,
                    }
                )
        lines.append(
            _Line(sku=row.sku, quantity=quantity, product=row.product, unit_price=row.unit_price, row=row)
        )
    for new in edit.add:
        if not isinstance(new.quantity, int) or isinstance(new.quantity, bool) or new.quantity <= 0:
            raise InvalidOrder(
                str(_("A new line needs a quantity of at least 1.")),
                details={"add": [f"{new.sku}: {new.quantity}"]},
            )
        product = products[new.sku]
        price = new.unit_price if new.unit_price is not None else product.price
        changes.append({"kind": "add", "sku": new.sku, "quantity": new.quantity})
        lines.append(_Line(sku=new.sku, quantity=new.quantity, product=product, unit_price=price))
    kept = [line for line in lines if line.quantity > 0]
    if not kept:
        raise EditRefused(
            str(_("The edit would leave no unit: cancel the order instead.")),
            details={"number": order.number},
        )

    # The delivery, validated as the intake does (the customer's email stands in for the form's).
    delivery = edit.delivery or _current_delivery(order)
    data = OrderInput(
        external_id=order.external_id,
        customer={"email": order.customer.email},
        delivery=delivery,
        lines=[LineInput(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price) for line in kept],
        allow_preorder=order.allow_preorder,
        shipping_fee=edit.shipping_fee if edit.shipping_fee is not None else order.shipping_fee,
    )
    _validated_products, store = _validate(channel=order.channel, data=data)
    delivery_fields = _delivery_fields(data=data, customer=order.customer, store=store)
    if edit.delivery is not None:
        before = {
            "mode": order.delivery_mode,
            **{
                k: getattr(order, k)
                for k in delivery_fields
                if k.startswith("ship_") and not k.endswith("itude")
            },
        }
        after = {"mode": delivery_fields["delivery_mode"]}
        after.update(
            {k: v for k, v in delivery_fields.items() if k.startswith("ship_") and not k.endswith("itude")}
        )
        diff = {
            k.removeprefix("ship_"): {"before": str(before.get(k) or ""), "after": str(after.get(k) or "")}
            for k in after
            if str(before.get(k) or "") != str(after.get(k) or "")
        }
        if (
            order.delivery_mode == DeliveryMode.RELAY
            or delivery_fields["delivery_mode"] == DeliveryMode.RELAY
        ):
            old_relay = (order.relay_point or {}).get("id", "")
            new_relay = (delivery_fields.get("relay_point") or {}).get("id", "")
            if old_relay != new_relay:
                diff["relay_point"] = {"before": old_relay, "after": new_relay}
        if diff:
            changes.append({"kind": "delivery", "fields": diff})
    if data.shipping_fee != order.shipping_fee:
        changes.append(
            {"kind": "shipping_fee", "before": str(order.shipping_fee), "after": str(data.shipping_fee)}
        )
    if not changes:
        raise InvalidOrder(str(_("Nothing to change.")), details={"edit": ["The order already is so."]})

    # Give back every reservation not consumed, then source, promise and reserve the whole new order.
    released = inventory_services.allocations_release(order_id=order.pk, announce=False)
    destination = _destination(data) if delivery_fields["delivery_mode"] != DeliveryMode.STORE else None
    if destination is None and delivery_fields["delivery_mode"] != DeliveryMode.STORE:
        destination = destination_of(postcode=order.ship_postcode, country=order.ship_country)
    requests = [
        LineRequest(index, line.product.pk, line.sku, line.quantity, line.product.weight_g)
        for index, line in enumerate(kept)
    ]
    try:
        decision = decide(
            channel=order.channel,
            lines=requests,
            mode=delivery_fields["delivery_mode"],
            destination=destination,
            pickup_location=store,
            allow_preorder=order.allow_preorder,
        )
    except OutOfStock as exc:
        raise OutOfStock(
            str(_("Not enough stock for the edited order: %(detail)s")) % {"detail": exc.message},
            details={"number": order.number, **exc.details},
        ) from None

    # The lines: rows updated, new rows numbered after the last.
    next_no = (OrderLine.objects.filter(order=order).aggregate(m=Max("line_no"))["m"] or 0) + 1
    new_rows = []
    for line in lines:
        if line.row is not None:
            if line.row.quantity != line.quantity:
                removed = line.row.quantity - line.quantity
                line.row.quantity_cancelled += max(removed, 0)
                line.row.quantity = line.quantity
                line.row.save(update_fields=["quantity", "quantity_cancelled"])
            continue
        line.row = OrderLine(
            order=order,
            line_no=next_no,
            product=line.product,
            sku=line.sku,
            name=line.product.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            vat_rate=line.product.vat_rate,
        )
        new_rows.append(line.row)
        next_no += 1
    OrderLine.objects.bulk_create(new_rows)
    plan = decision.allocations
    try:
        inventory_services.allocations_reserve(
            reservations=[p.reservation(order_id=order.pk, line_id=kept[p.line_index].row.pk) for p in plan],
            announce=False,
        )
    except OutOfStock as exc:
        raise _StockMoved from exc

    total_before = order.total_incl_vat
    goods = sum((line.unit_price * line.quantity for line in kept), Decimal("0"))
    total_after = (goods + data.shipping_fee).quantize(CENT)
    promise = decision.promise
    for key, value in delivery_fields.items():
        setattr(order, key, value)
    if delivery_fields["delivery_mode"] != DeliveryMode.STORE:
        order.pickup_location = None
    if delivery_fields["delivery_mode"] != DeliveryMode.RELAY:
        order.relay_point = {}
    order.shipping_fee = data.shipping_fee.quantize(CENT)
    order.total_incl_vat = total_after
    old_latest = order.promised_latest
    order.promised_earliest = promise[0] if promise else None
    order.promised_latest = promise[1] if promise else None
    order.planned_ship_date = max((p.ship_date for p in decision.plan.parcels if p.ship_date), default=None)
    order.save()
    _locations_replan(order=order, decision=decision, store=store)

    change = OrderChange.objects.create(
        order=order,
        kind=OrderChange.Kind.EDIT,
        source=source[:32],
        actor=actor if getattr(actor, "pk", None) else None,
        changes=changes,
        reason=edit.reason[:255],
        total_before=total_before,
        total_after=total_after,
        difference=total_after - total_before,
    )
    waiting = any(p.kind == Allocation.Kind.INCOMING for p in plan)
    target = OrderStatus.AWAITING_STOCK if waiting else OrderStatus.ALLOCATED
    if order.status != target and order.status != OrderStatus.RECEIVED:
        if target == OrderStatus.ALLOCATED:
            lifecycle.order_mark_allocated(order=order, actor=actor, reason="edit")
        else:
            lifecycle.order_mark_awaiting_stock(order=order, actor=actor, reason="edit")
    product_ids = sorted({line.product.pk for line in lines} | {r["product_id"] for r in released})
    events = [
        order_event(
            order,
            "order.edited",
            actor=actor,
            change=change.pk,
            by=(getattr(actor, "get_full_name", lambda: "")() or getattr(actor, "username", "")) or source,
            source=source,
            changes=changes,
            total_before=total_before,
            total_after=total_after,
            difference=change.difference,
            old_latest=old_latest,
            new_latest=order.promised_latest,
        ),
        order_event(order, "order.sourced", actor=actor, **decision.record()),
        order_event(order, "order.lines_changed", actor=actor, change=change.pk),
        availability_event(product_ids=product_ids),
    ]
    if order.promised_earliest:
        events.append(
            order_event(
                order,
                "order.promised",
                actor=actor,
                earliest=order.promised_earliest,
                latest=order.promised_latest,
                parcels=[],
                capacity=[],
            )
        )
    events_write(events)
    return change


def _locations_replan(*, order: Order, decision, store: Location | None) -> None:
    """OrderLocation rows for the new plan (rows of locations no longer used stay: the order stays visible
    where it was)."""
    planned = {
        parcel.location.pk: (parcel.quote.service_id if parcel.quote else None, parcel.ship_date)
        for parcel in decision.plan.parcels
    }
    wanted = {p.location_id for p in decision.allocations} | ({store.pk} if store else set())
    existing = {ol.location_id: ol for ol in OrderLocation.objects.filter(order=order)}
    for location_id in sorted(wanted):
        service_id, ship_by = planned.get(location_id, (None, None))
        if location_id in existing:
            OrderLocation.objects.filter(pk=existing[location_id].pk).update(
                service_id=service_id, ship_by=ship_by
            )
        else:
            OrderLocation.objects.create(
                order=order,
                location_id=location_id,
                status=order.status,
                created_at=order.created_at,
                service_id=service_id,
                ship_by=ship_by,
            )


# --- Units cancelled ---------------------------------------------------------------------------------


def cancellable_units(*, order: Order) -> dict[int, int]:
    """Units of each line that have not left: the line's quantity less what is in parcels handed over."""
    gone = dict(
        ShipmentLine.objects.filter(shipment__order_id=order.pk)
        .exclude(
            shipment__status__in=[
                ShipmentStatus.CREATED,
                ShipmentStatus.LABELLED,
                ShipmentStatus.LABEL_FAILED,
                ShipmentStatus.CANCELLED,
            ]
        )
        .values("order_line_id")
        .annotate(q=Sum("quantity"))
        .values_list("order_line_id", "q")
    )
    return {line.pk: max(line.quantity - gone.get(line.pk, 0), 0) for line in order.lines.all()}


@transaction.atomic
def order_lines_cancel(
    *,
    order: Order,
    quantities: dict[int, int],
    reason: str = "",
    actor=None,
    source: str = "backoffice",
    reason_code: str = "",
) -> OrderChange:
    """Cancel ``{order line id: units}`` of an order before those units ship (see the module's docstring).
    Cancelling every unit left cancels the order. Refused (nothing written) for more units than are left,
    or units already handed to the carrier."""
    order = lock_order(order.pk, related=("channel", "customer"))
    if order.status not in CANCELLABLE and order.status != OrderStatus.PARTIALLY_SHIPPED:
        raise EditRefused(
            _("Order %(number)s has shipped: open a return instead.") % {"number": order.number},
            details={"number": order.number, "status": order.status},
        )
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    wanted = {int(k): int(v) for k, v in quantities.items() if int(v)}
    if not wanted:
        raise InvalidOrder(str(_("Choose at least one unit to cancel.")), details={"lines": ["Required."]})
    left = cancellable_units(order=order)
    for line_id, units in wanted.items():
        if line_id not in lines:
            raise InvalidOrder(
                str(_("No line %(line)s on this order.")) % {"line": line_id}, details={"lines": [line_id]}
            )
        if units < 0 or units > left[line_id]:
            raise EditRefused(
                _("Line %(line)s (%(sku)s): %(left)s unit(s) can still be cancelled, not %(units)s.")
                % {
                    "line": lines[line_id].line_no,
                    "sku": lines[line_id].sku,
                    "left": left[line_id],
                    "units": units,
                },
                details={"line": line_id, "left": left[line_id], "asked": units},
            )
    remaining = sum(line.quantity for line in lines.values()) - sum(wanted.values())
    if remaining == 0 and order.status in CANCELLABLE:
        order = lifecycle.order_cancel(
            order=order, reason=reason or "all units cancelled", actor=actor, source=source, with_lines=True
        )
        # The change is still recorded (who cancelled what, the money) for the order's history.
    released: list[dict] = []
    total_before = order.total_incl_vat
    amount = Decimal("0")
    for line_id, units in sorted(wanted.items()):
        line = lines[line_id]
        if order.status != OrderStatus.CANCELLED:
            released += _release_units(order=order, line=line, units=units)
        line.quantity -= units
        line.quantity_cancelled += units
        line.save(update_fields=["quantity", "quantity_cancelled"])
        amount += line.unit_price * units
    amount = amount.quantize(CENT)
    if remaining == 0:  # nothing left to ship: the shipping charge goes back too
        amount += order.shipping_fee
        Order.objects.filter(pk=order.pk).update(shipping_fee=Decimal("0"))
        order.shipping_fee = Decimal("0")
    total_after = max(total_before - amount, Decimal("0"))
    Order.objects.filter(pk=order.pk).update(total_incl_vat=total_after, updated_at=timezone.now())
    order.total_incl_vat = total_after
    change = OrderChange.objects.create(
        order=order,
        kind=OrderChange.Kind.CANCELLATION,
        source=source[:32],
        actor=actor if getattr(actor, "pk", None) else None,
        changes=[
            {"kind": "cancel", "line": lines[i].line_no, "sku": lines[i].sku, "quantity": u}
            for i, u in sorted(wanted.items())
        ],
        reason=reason[:255],
        total_before=total_before,
        total_after=total_after,
        difference=total_after - total_before,
    )
    events_write(
        [
            order_event(
                order,
                "order.lines_cancelled",
                actor=actor,
                change=change.pk,
                source=source,
                reason=reason,
                reason_code=reason_code[:64],
                lines=[{"line_id": i, "sku": lines[i].sku, "quantity": u} for i, u in sorted(wanted.items())],
                released=released,
                amount=amount,
                total_after=total_after,
            ),
            order_event(order, "order.lines_changed", actor=actor, change=change.pk),
            availability_event(product_ids=sorted({lines[i].product_id for i in wanted})),
        ]
    )
    return change


def _release_units(*, order: Order, line: OrderLine, units: int) -> list[dict]:
    """Give back ``units`` of a line's reservations not consumed (pre-orders first, then the newest stock).
    Units picked and not packed are released like any reservation: the preparation's sync lowers its line
    and counts them to put back to their bin (the picker's screen shows it). Units already packed are
    refused: the parcel is closed, so it ships and comes back as a return."""
    held = (
        Allocation.objects.filter(order_id=order.pk, line_id=line.pk, consumed_at__isnull=True).aggregate(
            q=Sum("quantity")
        )["q"]
        or 0
    )
    if units > held:
        raise EditRefused(
            _(
                "Line %(line)s (%(sku)s): only %(held)s unit(s) are not packed yet; the others are in a "
                "closed parcel. Cancel at most %(held)s, or open a return once it is delivered."
            )
            % {"line": line.line_no, "sku": line.sku, "held": held},
            details={"line": line.pk, "not_packed": held, "asked": units},
        )
    return inventory_services.allocations_reduce(
        order_id=order.pk, line_id=line.pk, quantity=units, announce=False
    )
