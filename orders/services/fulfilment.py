"""The orders side of picking, packing and click & collect.

``preparations_sync`` hands an order's stock allocations to the locations that prepare them (fulfillment
keeps its own rows). The receivers of fulfillment's signals call the functions below: the order starts
preparation at the first pick, a short pick is re-sourced, a closed parcel consumes its units' stock, a
click & collect order set aside becomes ready for pickup; ``order_hand_over`` checks the pickup code."""

import hmac

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fulfillment import services as fulfillment_services
from fulfillment.models import Preparation, PreparationStatus
from inventory import services as inventory_services
from inventory.exceptions import OutOfStock
from inventory.models import Location
from shipping.models import Shipment

from ..exceptions import InvalidTransition
from ..models import Allocation, DeliveryMode, Order, OrderLine, OrderLocation, OrderStatus
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
