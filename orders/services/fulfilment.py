"""The orders side of picking, packing and click & collect.

``preparations_sync`` hands an order's stock allocations to the locations that prepare them (fulfillment
keeps its own rows). The receivers of fulfillment's signals call the functions below: the order starts
preparation at the first pick, a short pick is re-sourced, a closed parcel consumes its units' stock, a
click & collect order set aside becomes ready for pickup; ``order_hand_over`` checks the pickup code."""

import hmac

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fulfillment import services as fulfillment_services
from fulfillment.models import Preparation, PreparationStatus
from inventory import services as inventory_services
from inventory.exceptions import OutOfStock
from inventory.models import Location
from shipping import rule_services
from shipping import shipments as shipping_shipments
from shipping.models import Shipment

from ..exceptions import InvalidTransition
from ..models import Allocation, DeliveryMode, Order, OrderLine, OrderLocation, OrderStatus
from ..signals import order_parcels_shipped
from . import lifecycle
from .events import event_add
from .handover import preparations_sync
from .sourcing import LineRequest, decide, destination_of


def _order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def preparation_started(*, order_id: int, location_id: int, actor=None) -> None:
    order = _order(order_id)
    if order.status == OrderStatus.ALLOCATED:
        lifecycle.order_start_preparation(order=order, actor=actor)


def preparation_picked(*, order_id: int, location_id: int, actor=None) -> None:
    order = Order.objects.get(pk=order_id)
    location = Location.objects.get(pk=location_id)
    event_add(
        order=order,
        type="picked",
        actor=actor,
        message=_("Every unit to prepare at %(location)s is picked."),
        params={"location": location.name},
        data={"location": location.code},
    )


@transaction.atomic
def line_resource(
    *, order_id: int, order_line_id: int, location_id: int, quantity: int, reason: str, actor=None
) -> None:
    """Units of a line were found missing or damaged at a location (fulfillment wrote them off the stock
    and released their reservation). Shrink the allocation there and source the units again: another
    location's stock, else a replenishment on its way (pre-order), else the line waits for stock. The
    timeline says which, and the locations' preparations follow."""
    order = _order(order_id)
    line = OrderLine.objects.select_related("product").get(pk=order_line_id, order=order)
    location = Location.objects.get(pk=location_id)
    remaining = quantity
    for allocation in (
        Allocation.objects.select_for_update()
        .filter(line=line, location_id=location_id, kind=Allocation.Kind.STOCK, consumed_at__isnull=True)
        .order_by("-pk")
    ):
        take = min(remaining, allocation.quantity)
        if take == allocation.quantity:
            allocation.delete()
        else:
            allocation.quantity -= take
            allocation.save(update_fields=["quantity"])
        remaining -= take
        if remaining == 0:
            break
    reason_text = _("missing") if reason == "missing" else _("damaged")
    try:
        decision = decide(
            channel=order.channel,
            lines=[LineRequest(0, line.product_id, line.sku, quantity, line.product.weight_g)],
            mode=order.delivery_mode,
            destination=destination_of(
                postcode=order.ship_postcode,
                country=order.ship_country,
                latitude=order.ship_latitude,
                longitude=order.ship_longitude,
            ),
            pickup_location=order.pickup_location,
            allow_preorder=order.allow_preorder,
            exclude_location_ids=[location_id],
        )
        planned = decision.allocations
    except OutOfStock:
        planned = []
    placed = []
    try:
        with transaction.atomic():
            for p in sorted(planned, key=lambda p: (p.kind, p.location_id, p.incoming_id or 0)):
                if p.kind == Allocation.Kind.STOCK:
                    inventory_services.stock_reserve(
                        product_id=p.product_id, location_id=p.location_id, quantity=p.quantity
                    )
                else:
                    inventory_services.incoming_reserve(incoming_id=p.incoming_id, quantity=p.quantity)
                Allocation.objects.create(
                    line=line,
                    location_id=p.location_id,
                    quantity=p.quantity,
                    kind=p.kind,
                    incoming_id=p.incoming_id,
                )
                placed.append(p)
    except OutOfStock:
        placed = []  # stock moved meanwhile: the line waits; customer service sees it on the timeline
    parcels = {parcel.location.pk: parcel for parcel in decision.plan.parcels} if planned else {}
    for p in placed:
        parcel = parcels.get(p.location_id)
        OrderLocation.objects.get_or_create(
            order=order,
            location_id=p.location_id,
            defaults={
                "status": order.status,
                "created_at": order.created_at,
                "service_id": parcel.quote.service_id if parcel and parcel.quote else None,
                "ship_by": parcel.ship_date if parcel else None,
            },
        )
    codes = dict(Location.objects.filter(pk__in={p.location_id for p in placed}).values_list("pk", "code"))
    found = sum(p.quantity for p in placed)
    if placed:
        detail = ", ".join(
            f"{p.quantity} @ {codes[p.location_id]}"
            + (f" ({p.expected_on:%d/%m/%Y})" if p.kind == Allocation.Kind.INCOMING else "")
            for p in placed
        )
        message = _("Short pick at %(location)s: %(quantity)s × %(sku)s %(reason)s. Re-sourced: %(detail)s.")
    else:
        detail = ""
        message = _(
            "Short pick at %(location)s: %(quantity)s × %(sku)s %(reason)s. "
            "No stock anywhere: the line waits for stock."
        )
    event_add(
        order=order,
        type="short_pick",
        actor=actor,
        message=message,
        params={
            "location": location.name,
            "quantity": quantity,
            "sku": line.sku,
            "reason": reason_text,
            "detail": detail,
        },
        data={
            "sku": line.sku,
            "location": location.code,
            "quantity": quantity,
            "reason": reason,
            "resourced": [
                {"location": codes[p.location_id], "quantity": p.quantity, "kind": p.kind} for p in placed
            ],
            "unallocated": quantity - found,
        },
    )
    _settle_status(order=order, actor=actor)
    preparations_sync(order=order)


def _settle_status(*, order: Order, actor=None) -> None:
    """After re-sourcing: an order with nothing left to prepare from stock waits for stock."""
    open_stock = Allocation.objects.filter(
        line__order=order, kind=Allocation.Kind.STOCK, consumed_at__isnull=True
    ).exists()
    shipped = Allocation.objects.filter(line__order=order, consumed_at__isnull=False).exists()
    if open_stock or shipped:
        return
    if order.status in (OrderStatus.ALLOCATED, OrderStatus.IN_PREPARATION):
        lifecycle.order_mark_awaiting_stock(
            order=order,
            actor=actor,
            message=_("Nothing left to prepare from stock: the order waits for stock."),
        )


def parcel_closed(*, order_id: int, location_id: int, shipment: Shipment, lines, actor=None) -> None:
    """A parcel left the pack station: its units move from reserved to consumed stock, and the order's
    allocations at the location say they shipped."""
    order = _order(order_id)
    now = timezone.now()
    detail = []
    for order_line_id, product_id, quantity in lines:
        inventory_services.stock_consume(
            product_id=product_id,
            location_id=location_id,
            quantity=quantity,
            actor=actor,
            reference=order.number,
        )
        remaining = quantity
        for allocation in (
            Allocation.objects.select_for_update()
            .filter(
                line_id=order_line_id,
                location_id=location_id,
                kind=Allocation.Kind.STOCK,
                consumed_at__isnull=True,
            )
            .order_by("pk")
        ):
            take = min(remaining, allocation.quantity)
            if take < allocation.quantity:
                allocation.quantity -= take
                allocation.save(update_fields=["quantity"])
                Allocation.objects.create(
                    line_id=order_line_id,
                    location_id=location_id,
                    quantity=take,
                    kind=Allocation.Kind.STOCK,
                    consumed_at=now,
                )
            else:
                allocation.consumed_at = now
                allocation.save(update_fields=["consumed_at"])
            remaining -= take
            if remaining == 0:
                break
        if remaining:
            raise InvalidTransition(
                "The parcel holds more units than the order has reserved at this location.",
                details={"order_line": order_line_id, "extra": remaining},
            )
        detail.append(f"{quantity} × {OrderLine.objects.values_list('sku', flat=True).get(pk=order_line_id)}")
    _choose_carrier(order=order, shipment=shipment, actor=actor)
    event_add(
        order=order,
        type="packed",
        actor=actor,
        message=_("Parcel %(parcel)s packed at %(location)s (%(weight)s g): %(detail)s."),
        params={
            "parcel": shipment.number,
            "location": shipment.location.name,
            "weight": shipment.weight_g,
            "detail": ", ".join(detail),
        },
        data={"shipment": shipment.number, "location": shipment.location.code, "weight_g": shipment.weight_g},
    )


def pickup_ready(*, order_id: int, location_id: int, actor=None) -> None:
    order = _order(order_id)
    elsewhere = (
        Preparation.objects.filter(order_id=order_id)
        .exclude(location_id=location_id)
        .exclude(status__in=[PreparationStatus.CANCELLED, PreparationStatus.PACKED])
        .exists()
    )
    location = Location.objects.get(pk=location_id)
    if elsewhere or order.status != OrderStatus.IN_PREPARATION:
        event_add(
            order=order,
            type="pickup_partly_ready",
            actor=actor,
            message=_("Units of the order are set aside at %(store)s; the rest is on its way."),
            params={"store": location.name},
        )
        return
    lifecycle.order_mark_ready_for_pickup(
        order=order,
        actor=actor,
        message=_("Ready for pickup at %(store)s (pickup code given to the customer)."),
        params={"store": location.name},
    )


class PickupRefused(InvalidTransition):
    code = "pickup_refused"
    status_code = 422


@transaction.atomic
def order_hand_over(
    *, order: Order, location: Location, code: str = "", id_checked: bool = False, actor=None
):
    """The customer collects a click & collect order at the store: the pickup code (or an identity
    document checked by the staff) is required; the units set aside leave the stock; the order is
    delivered."""
    order = _order(order.pk)
    if order.delivery_mode != DeliveryMode.STORE or order.pickup_location_id != location.pk:
        raise PickupRefused(str(_("This order is not collected at this store.")), code="other_store")
    if order.status != OrderStatus.READY_FOR_PICKUP:
        raise PickupRefused(
            str(_("Order %(order)s is not ready for pickup.")) % {"order": order.number}, code="not_ready"
        )
    given = (code or "").strip().upper()
    if given:
        if not hmac.compare_digest(given.encode(), order.pickup_code.encode()):
            raise PickupRefused(
                str(_("This is not the pickup code of order %(order)s.")) % {"order": order.number},
                code="wrong_code",
            )
    elif not id_checked:
        raise PickupRefused(
            str(_("Ask for the pickup code, or check the customer's identity document.")),
            code="code_required",
        )
    for allocation in (
        Allocation.objects.select_for_update()
        .filter(line__order=order, location=location, kind=Allocation.Kind.STOCK, consumed_at__isnull=True)
        .select_related("line")
    ):
        inventory_services.stock_consume(
            product_id=allocation.line.product_id,
            location_id=location.pk,
            quantity=allocation.quantity,
            actor=actor,
            reference=order.number,
        )
        allocation.consumed_at = timezone.now()
        allocation.save(update_fields=["consumed_at"])
    fulfillment_services.pickup_collected(order_id=order.pk, location_id=location.pk)
    Shipment.objects.filter(order=order, status__in=Shipment.IN_FLIGHT).update(
        status=Shipment.Status.DELIVERED, delivered_at=timezone.now()
    )
    how = _("with the pickup code") if given else _("after an identity check")
    return lifecycle.order_mark_delivered(
        order=order,
        actor=actor,
        message=_("Collected at %(store)s %(how)s."),
        params={"store": location.name, "how": how},
        data={"pickup": "code" if given else "id"},
    )


@transaction.atomic
def order_receive_at_store(*, order: Order, location: Location, actor=None) -> Order:
    """Parcels sent by a warehouse to the store arrived: the order is ready for pickup."""
    order = _order(order.pk)
    if order.delivery_mode != DeliveryMode.STORE or order.pickup_location_id != location.pk:
        raise PickupRefused(str(_("This order is not collected at this store.")), code="other_store")
    if order.status not in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY):
        raise PickupRefused(
            str(_("Order %(order)s has not left the warehouse yet.")) % {"order": order.number},
            code="not_shipped",
        )
    Shipment.objects.filter(order=order, status__in=Shipment.IN_FLIGHT).update(
        status=Shipment.Status.AVAILABLE_FOR_PICKUP
    )
    return lifecycle.order_mark_ready_for_pickup(
        order=order,
        actor=actor,
        message=_("The parcels arrived at %(store)s: ready for pickup."),
        params={"store": location.name},
    )


@transaction.atomic
def order_return_uncollected(*, order: Order, location: Location, actor=None) -> Order:
    """A click & collect order nobody came for: its units go back to sellable stock, the order is
    returned (what was already paid is refunded by the merchant's payment system)."""
    order = _order(order.pk)
    if order.status != OrderStatus.READY_FOR_PICKUP or order.pickup_location_id != location.pk:
        raise PickupRefused(
            str(_("Order %(order)s is not waiting at this store.")) % {"order": order.number},
            code="not_ready",
        )
    released = lifecycle.allocations_release(
        allocations=list(
            Allocation.objects.filter(
                line__order=order, location=location, kind=Allocation.Kind.STOCK, consumed_at__isnull=True
            ).select_related("line", "location")
        )
    )
    Preparation.objects.filter(order_id=order.pk, location=location, status=PreparationStatus.READY).update(
        status=PreparationStatus.CANCELLED
    )
    return lifecycle.order_mark_returned(
        order=order,
        actor=actor,
        message=_("Not collected: %(count)s reservation(s) at %(store)s released, units back on the shelf."),
        params={"count": len(released), "store": location.name},
    )


def pickups_flag_uncollected() -> int:
    preps = fulfillment_services.pickups_flag_uncollected()
    for prep in preps:
        order = Order.objects.get(pk=prep.order_id)
        event_add(
            order=order,
            type="not_collected",
            message=_("Not collected within %(days)s days at %(store)s: to return to stock."),
            params={"days": (timezone.now() - prep.ready_at).days, "store": prep.location.name},
        )
    return len(preps)


def _choose_carrier(*, order: Order, shipment: Shipment, actor=None) -> None:
    """The parcel's carrier service: the first shipping rule that matches (channel, mode, country,
    weight, order value), else the one sourcing chose; the label is asked for after commit."""
    service, rule = rule_services.rule_choose(
        channel_id=order.channel_id,
        delivery_mode=order.delivery_mode,
        country=order.ship_country,
        weight_g=shipment.weight_g,
        order_value=order.total_incl_vat,
        default_service_id=shipment.service_id,
    )
    relay = order.relay_point or {}
    shipping_shipments.shipment_prepare(
        shipment=shipment,
        recipient={
            "name": order.ship_name,
            "company": order.ship_company,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "postcode": order.ship_postcode,
            "city": order.ship_city,
            "country": order.ship_country,
            "phone": order.ship_phone or order.customer.phone,
            "email": order.customer.email,
        },
        relay_id=str(relay.get("id", "")) if order.delivery_mode == DeliveryMode.RELAY else "",
        service_id=service.pk if service else None,
        # issue 20: why this service (rate shopping), the channel (return label in parcel), prices (customs)
        channel_id=order.channel_id,
        rule_id=rule.pk if rule is not None else None,
        line_values={line.pk: line.unit_price for line in order.lines.all()},
    )
    if rule is not None:
        event_add(
            order=order,
            type="shipping_rule",
            actor=actor,
            message=_("Shipping rule “%(rule)s” chose %(service)s for parcel %(parcel)s."),
            params={"rule": rule.name, "service": str(service), "parcel": shipment.number},
            data={"rule": rule.pk, "service": service.pk, "shipment": shipment.number},
        )


def _all_shipped(order: Order) -> bool:
    """Every unit of the order left: consumed from stock and in a parcel handed to its carrier."""
    for line in order.lines.all():
        consumed = Allocation.objects.filter(line=line, consumed_at__isnull=False).aggregate(
            n=Sum("quantity")
        )
        if (consumed["n"] or 0) < line.quantity:
            return False
    return not Shipment.objects.filter(
        order=order,
        status__in=[Shipment.Status.CREATED, Shipment.Status.LABELLED, Shipment.Status.LABEL_FAILED],
    ).exists()


def parcels_handed_over(*, shipments, actor=None) -> None:
    """Parcels left with their carrier's driver: each order becomes shipped, or partially shipped while
    units are still to come (the customer is told each time parcels leave)."""
    from ..notifications import order_notify_parcels_shipped

    for order_id in sorted({s.order_id for s in shipments}):
        order = _order(order_id)
        numbers = ", ".join(s.number for s in shipments if s.order_id == order_id)
        complete = _all_shipped(order)
        params = {"parcels": numbers}
        if complete and order.status in (OrderStatus.IN_PREPARATION, OrderStatus.PARTIALLY_SHIPPED):
            lifecycle.order_mark_shipped(
                order=order,
                actor=actor,
                message=_("Shipped: parcel(s) %(parcels)s handed to the carrier."),
                params=params,
            )
        elif order.status == OrderStatus.IN_PREPARATION:
            lifecycle.order_mark_partially_shipped(
                order=order,
                actor=actor,
                message=_(
                    "Partially shipped: parcel(s) %(parcels)s handed to the carrier, the rest follows."
                ),
                params=params,
            )
        else:
            event_add(
                order=order,
                type="handed_over",
                actor=actor,
                message=_("Parcel(s) %(parcels)s handed to the carrier."),
                params=params,
            )
            order_notify_parcels_shipped(order=order)
            order_parcels_shipped.send(
                sender=Order, order=order, shipments=[s for s in shipments if s.order_id == order_id]
            )


def shipment_moved(*, shipment: Shipment, old_status: str, new_status: str, event=None) -> None:
    """A carrier's news moves the order: out for delivery, ready for pickup (relay or counter), delivered
    once every parcel is; a delivery problem or a return goes on the timeline (and the dashboard)."""
    if new_status == Shipment.Status.HANDED_OVER:
        return  # the hand-over moves orders once per manifest (parcels_handed_over)
    order = _order(shipment.order_id)
    label = event.label if event is not None else ""
    event_add(
        order=order,
        type="tracking",
        message=_("Parcel %(parcel)s: %(status)s. %(label)s"),
        params={"parcel": shipment.number, "status": Shipment.Status(new_status).label, "label": label},
        data={"shipment": shipment.number, "status": new_status, "code": getattr(event, "code", "")},
    )
    status = order.status
    if new_status == Shipment.Status.OUT_FOR_DELIVERY and status == OrderStatus.SHIPPED:
        lifecycle.order_mark_out_for_delivery(order=order)
    elif new_status == Shipment.Status.AVAILABLE_FOR_PICKUP and status in (
        OrderStatus.SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
    ):
        lifecycle.order_mark_ready_for_pickup(
            order=order,
            message=_("Parcel %(parcel)s is waiting at the relay point."),
            params={"parcel": shipment.number},
        )
    elif new_status == Shipment.Status.DELIVERED and status in (
        OrderStatus.SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.READY_FOR_PICKUP,
    ):
        undelivered = (
            Shipment.objects.filter(order=order)
            .exclude(status__in=[Shipment.Status.DELIVERED, Shipment.Status.CANCELLED])
            .exists()
        )
        if not undelivered:
            lifecycle.order_mark_delivered(order=order)
