"""The orders side of picking, packing, click & collect, dispatch and tracking.

Fulfillment, shipping and inventory write what happened on the floor to the event log; the consumer
``orders.lifecycle`` (``orders/events.py``) calls the functions below after commit, each in its own
transaction that starts by locking the order (the first lock of the project's lock order): the order starts
preparation at the first pick, a short pick is re-sourced, a closed parcel gets its carrier service from
the shipping rules, a click & collect order set aside becomes ready for pickup, parcels handed over ship
the order, carrier news moves it, a replenishment that arrived allocates it. The counter's hand-over
(``order_hand_over``) and the store's other actions are services called by the pages."""

import hmac

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fulfillment import services as fulfillment_services
from fulfillment.models import Preparation, PreparationStatus
from inventory import services as inventory_services
from inventory.exceptions import OutOfStock
from inventory.models import Allocation, Location, Product
from shipping import rule_services
from shipping import services as shipping_services
from shipping import shipments as shipping_shipments
from shipping.models import Shipment

from ..exceptions import InvalidTransition
from ..locks import lock_order
from ..models import DeliveryMode, Order, OrderLine, OrderLocation, OrderStatus
from . import lifecycle
from .events import event_add
from .kits import line_units
from .sourcing import LineRequest, decide, destination_of


def preparation_started(*, order_id: int, actor=None) -> None:
    """The first unit of the order was picked somewhere: allocated → in preparation (one conditional
    UPDATE, which locks the order; an order no longer allocated is left as it is)."""
    lifecycle.order_start_preparation_if_allocated(order_id=order_id, actor=actor)


def line_resource(
    *,
    order_id: int,
    order_line_id: int,
    location_id: int,
    quantity: int,
    reason: str,
    product_id: int | None = None,
    actor=None,
) -> None:
    """Units of a line were found missing or damaged at a location (inventory wrote them off and shrank the
    line's allocation there, in the picker's transaction). Source them again: another location's stock,
    else a replenishment on its way (pre-order), else the line waits for stock; ``order.resourced`` says
    which, and the locations' preparations follow (consumer ``orders.handover``)."""
    order = lock_order(order_id, related=("channel", "pickup_location"))
    if order.status in (OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.DELIVERED):
        return
    line = OrderLine.objects.select_related("product").get(pk=order_line_id, order=order)
    location = Location.objects.get(pk=location_id)
    # A kit's short component is sourced again alone (the kit's other components stay where they are).
    product = line.product
    if product_id is not None and product_id != line.product_id:
        product = Product.objects.get(pk=product_id)
    try:
        decision = decide(
            channel=order.channel,
            lines=[LineRequest(0, product.pk, product.sku, quantity, product.weight_g)],
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
        decision, planned = None, []
    placed = []
    if planned:
        try:
            with transaction.atomic():
                inventory_services.allocations_reserve(
                    reservations=[p.reservation(order_id=order.pk, line_id=line.pk) for p in planned]
                )
            placed = planned
        except OutOfStock:
            placed = []  # stock moved meanwhile: the line waits; customer service sees it on the timeline
    parcels = {parcel.location.pk: parcel for parcel in decision.plan.parcels} if placed else {}
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
    names = {
        pk: (code, name)
        for pk, code, name in Location.objects.filter(pk__in={p.location_id for p in placed}).values_list(
            "pk", "code", "name"
        )
    }
    found = sum(p.quantity for p in placed)
    event_add(
        order=order,
        code="order.resourced",
        actor=actor,
        sku=product.sku,
        line_id=line.pk,
        location=location.name,
        location_code=location.code,
        quantity=quantity,
        reason=reason,
        placed=[
            {
                "location": names[p.location_id][0],
                "location_name": names[p.location_id][1],
                "quantity": p.quantity,
                "kind": p.kind,
                "expected_on": p.expected_on,
            }
            for p in placed
        ],
        unallocated=quantity - found,
    )
    _settle_status(order=order, actor=actor)


def _settle_status(*, order: Order, actor=None) -> None:
    """After re-sourcing: an order with nothing left to prepare from stock waits for stock."""
    open_stock = Allocation.objects.filter(
        order=order, kind=Allocation.Kind.STOCK, consumed_at__isnull=True
    ).exists()
    shipped = Allocation.objects.filter(order=order, consumed_at__isnull=False).exists()
    if open_stock or shipped:
        return
    if order.status in (OrderStatus.ALLOCATED, OrderStatus.IN_PREPARATION):
        lifecycle.order_mark_awaiting_stock(order=order, actor=actor, reason="nothing_left")


def incoming_served(*, order_id: int, actor=None) -> None:
    """A replenishment arrived and some of the order's pre-ordered units are now reserved stock (inventory
    converted them in order of arrival): an order with nothing left to wait for is allocated."""
    order = lock_order(order_id)
    if order.status != OrderStatus.AWAITING_STOCK:
        return
    if not Allocation.objects.filter(order=order, kind=Allocation.Kind.INCOMING).exists():
        lifecycle.order_mark_allocated(order=order, actor=actor, reason="replenishment")


def parcel_closed(*, order_id: int, shipment_id: int, actor=None) -> None:
    """A parcel left the pack station (its units left the stock then): its carrier service is the first
    shipping rule that matches (channel, mode, country, weight, order value), else sourcing's; the label
    is asked for after commit."""
    order = lock_order(order_id, related=("customer",))
    shipment = Shipment.objects.select_related("location").get(pk=shipment_id)
    if shipment.status != Shipment.Status.CREATED or order.status == OrderStatus.CANCELLED:
        return  # cancelled meanwhile, or already prepared (a replay)
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
        service=service,  # with its carrier (``rule_choose``)
        # issue 20: why this service (rate shopping), the channel (return label in parcel), prices (customs)
        channel_id=order.channel_id,
        rule_id=rule.pk if rule is not None else None,
        # each parcel line's value, its order line's price, in the UPDATE itself (the lines are not read)
        line_values=Subquery(OrderLine.objects.filter(pk=OuterRef("order_line_id")).values("unit_price")[:1]),
    )
    if rule is not None:
        event_add(
            order=order,
            code="order.shipping_rule",
            actor=actor,
            rule=rule.pk,
            rule_name=rule.name,
            service=service.pk,
            service_name=str(service),
            parcel=shipment.number,
        )


def pickup_ready(*, order_id: int, location_id: int, actor=None) -> None:
    """A click & collect order's units are set aside at its store: ready for pickup, unless units are still
    on their way from elsewhere."""
    order = lock_order(order_id)
    elsewhere = (
        Preparation.objects.filter(order_id=order_id)
        .exclude(location_id=location_id)
        .exclude(status__in=[PreparationStatus.CANCELLED, PreparationStatus.PACKED])
        .exists()
    )
    if not elsewhere and order.status == OrderStatus.IN_PREPARATION:
        lifecycle.order_mark_ready_for_pickup(order=order, actor=actor, location_id=location_id)


def _all_shipped(order: Order) -> bool:
    """Every unit of the order left: consumed from stock and in a parcel handed to its carrier."""
    consumed = line_units(
        Allocation.objects.filter(order=order, consumed_at__isnull=False)
        .values_list("line_id", "line__product_id", "product_id")
        .annotate(n=Sum("quantity"))
    )
    # the lines with, in the same statement, whether a parcel of the order still waits at the dock
    waiting = Shipment.objects.filter(
        order=order,
        status__in=[Shipment.Status.CREATED, Shipment.Status.LABELLED, Shipment.Status.LABEL_FAILED],
    )
    lines = list(order.lines.annotate(waiting=Exists(waiting)).values_list("pk", "quantity", "waiting"))
    if any(consumed.get(line_id, 0) < quantity for line_id, quantity, _waiting in lines):
        return False
    if not lines:  # no line to carry the answer (never from intake): asked on its own
        return not waiting.exists()
    return not lines[0][2]


def parcels_handed_over(*, order_id: int, actor=None) -> None:
    """Parcels of the order left with their carrier's driver: it is shipped, or partially shipped while
    units are still to come (a second partial shipment changes no status; its own event tells it)."""
    order = lock_order(order_id, related=("channel",))
    complete = _all_shipped(order)
    # the channel's kind in the move's event: its consumer ``channels.fulfilment`` does not read it
    kind = order.channel.kind
    if complete and order.status in (OrderStatus.IN_PREPARATION, OrderStatus.PARTIALLY_SHIPPED):
        lifecycle.order_mark_shipped(order=order, actor=actor, locked=True, channel_kind=kind)
    elif order.status == OrderStatus.IN_PREPARATION:
        lifecycle.order_mark_partially_shipped(order=order, actor=actor, locked=True, channel_kind=kind)


# The carrier statuses ``shipment_moved`` acts on; the others (in transit, a problem, a return) move no order
# and its consumer does not lock the order for them (``orders.events``).
SHIPMENT_STATUSES_THAT_MOVE_ORDERS = frozenset(
    {Shipment.Status.OUT_FOR_DELIVERY, Shipment.Status.AVAILABLE_FOR_PICKUP, Shipment.Status.DELIVERED}
)


def shipment_moved(*, order_id: int, shipment_id: int, new_status: str) -> None:
    """A carrier's news moves the order: out for delivery, ready for pickup (relay or counter), delivered
    once every parcel is; a delivery problem or a return is on the timeline (and the dashboard)."""
    order = lock_order(order_id)
    status = order.status
    if new_status == Shipment.Status.OUT_FOR_DELIVERY and status == OrderStatus.SHIPPED:
        lifecycle.order_mark_out_for_delivery(order=order)
    elif new_status == Shipment.Status.AVAILABLE_FOR_PICKUP and status in (
        OrderStatus.SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
    ):
        lifecycle.order_mark_ready_for_pickup(order=order, shipment_id=shipment_id)
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


# --- Click & collect at the store (pages) ----------------------------------------------------------------


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
    order = lock_order(order.pk)
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
    # Lock order: the order, its preparations, its shipments, then its allocations and stock levels.
    fulfillment_services.pickup_collected(order_id=order.pk, location_id=location.pk)
    shipping_services.shipments_collected(order_id=order.pk)
    held = (
        Allocation.objects.filter(
            order=order, location=location, kind=Allocation.Kind.STOCK, consumed_at__isnull=True
        )
        .values("line_id", "product_id")
        .annotate(quantity=Sum("quantity"))
        .order_by("line_id", "product_id")
    )
    inventory_services.allocations_consume_many(
        location_id=location.pk,
        items=[
            inventory_services.Consumption(
                line_id=row["line_id"], quantity=row["quantity"], product_id=row["product_id"]
            )
            for row in held
        ],
        actor=actor,
        reference=order.number,
    )
    return lifecycle.order_mark_delivered(
        order=order, actor=actor, pickup="code" if given else "id", location_id=location.pk
    )


@transaction.atomic
def order_receive_at_store(*, order: Order, location: Location, actor=None) -> Order:
    """Parcels sent by a warehouse to the store arrived: the order is ready for pickup."""
    order = lock_order(order.pk)
    if order.delivery_mode != DeliveryMode.STORE or order.pickup_location_id != location.pk:
        raise PickupRefused(str(_("This order is not collected at this store.")), code="other_store")
    if order.status not in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY):
        raise PickupRefused(
            str(_("Order %(order)s has not left the warehouse yet.")) % {"order": order.number},
            code="not_shipped",
        )
    shipping_services.shipments_arrived_at_store(order_id=order.pk)
    return lifecycle.order_mark_ready_for_pickup(
        order=order, actor=actor, location_id=location.pk, arrived=True
    )


@transaction.atomic
def order_return_uncollected(*, order: Order, location: Location, actor=None) -> Order:
    """A click & collect order nobody came for: its units go back to sellable stock, the order is
    returned (what was already paid is refunded by the merchant's payment system)."""
    order = lock_order(order.pk)
    if order.status != OrderStatus.READY_FOR_PICKUP or order.pickup_location_id != location.pk:
        raise PickupRefused(
            str(_("Order %(order)s is not waiting at this store.")) % {"order": order.number},
            code="not_ready",
        )
    fulfillment_services.pickup_returned(order_id=order.pk, location_id=location.pk)
    released = inventory_services.allocations_release(
        order_id=order.pk, location_id=location.pk, kind=Allocation.Kind.STOCK
    )
    return lifecycle.order_mark_returned(
        order=order,
        actor=actor,
        reason="not_collected",
        count=len(released),
        store=location.name,
    )


@transaction.atomic
def pickups_flag_uncollected() -> int:
    preps = fulfillment_services.pickups_flag_uncollected()
    for prep in preps:
        event_add(
            order=prep.order_id,
            code="order.not_collected",
            days=(timezone.now() - prep.ready_at).days,
            store=prep.location.name,
        )
    return len(preps)
