"""The order's status machine: one function per transition. Each checks the move is allowed (with a
conditional UPDATE, so two concurrent moves cannot both succeed), writes the timeline event and sends
``order_status_changed`` inside the transaction."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fulfillment.services import capacity_release, preparations_cancel
from inventory import services as inventory_services
from shipping import services as shipping_services

from ..exceptions import InvalidTransition
from ..models import CANCELLABLE, ORDER_TRANSITIONS, Allocation, Order, OrderLocation, OrderStatus
from ..signals import order_cancelled, order_status_changed
from .events import event_add
from .handover import preparations_sync


def _transition(
    *, order: Order, to: str, actor=None, message=None, params: dict | None = None, data: dict | None = None
) -> Order:
    current = Order.objects.filter(pk=order.pk).values_list("status", flat=True).first()
    if current is None or to not in ORDER_TRANSITIONS.get(current, ()):
        raise InvalidTransition(
            f"An order that is {current} cannot become {to}.",
            details={"number": order.number, "status": current, "to": to},
        )
    updated = Order.objects.filter(pk=order.pk, status=current).update(status=to, updated_at=timezone.now())
    if not updated:  # changed by someone else since we read it
        raise InvalidTransition(
            "The order changed meanwhile; reload it.", details={"number": order.number, "to": to}
        )
    OrderLocation.objects.filter(order_id=order.pk).update(status=to)
    order.status = to
    event_add(
        order=order,
        type="status_changed",
        message=message or _("Status: %(old)s → %(new)s."),
        params=params if message else {"old": OrderStatus(current).label, "new": OrderStatus(to).label},
        actor=actor,
        data={"from": current, "to": to, **(data or {})},
    )
    order_status_changed.send(sender=Order, order=order, old_status=current, new_status=to, actor=actor)
    return order


def order_mark_allocated(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    """Allocated from stock: the locations holding the stock get the order to prepare."""
    _transition(order=order, to=OrderStatus.ALLOCATED, actor=actor, message=message, params=params, data=data)
    preparations_sync(order=order)
    return order


def order_mark_awaiting_stock(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.AWAITING_STOCK, actor=actor, message=message, params=params, data=data
    )


def order_start_preparation(*, order: Order, actor=None) -> Order:
    return _transition(order=order, to=OrderStatus.IN_PREPARATION, actor=actor)


def order_mark_partially_shipped(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.PARTIALLY_SHIPPED, actor=actor, message=message, params=params, data=data
    )


def order_mark_shipped(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.SHIPPED, actor=actor, message=message, params=params, data=data
    )


def order_mark_out_for_delivery(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.OUT_FOR_DELIVERY, actor=actor, message=message, params=params, data=data
    )


def order_mark_ready_for_pickup(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.READY_FOR_PICKUP, actor=actor, message=message, params=params, data=data
    )


def order_mark_delivered(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.DELIVERED, actor=actor, message=message, params=params, data=data
    )


def order_mark_returned(*, order: Order, actor=None, message=None, params=None, data=None) -> Order:
    return _transition(
        order=order, to=OrderStatus.RETURNED, actor=actor, message=message, params=params, data=data
    )


def allocations_release(*, allocations) -> list[dict]:
    """Give back the stock or incoming units held by these allocations and delete them. Returns what was
    released, for the timeline."""
    released = []
    rows = sorted(allocations, key=lambda a: (a.kind, a.line.product_id, a.location_id, a.incoming_id or 0))
    for allocation in rows:
        if allocation.kind == Allocation.Kind.STOCK:
            inventory_services.stock_release(
                product_id=allocation.line.product_id,
                location_id=allocation.location_id,
                quantity=allocation.quantity,
            )
        else:
            inventory_services.incoming_release(
                incoming_id=allocation.incoming_id, quantity=allocation.quantity
            )
        released.append(
            {
                "sku": allocation.line.sku,
                "location": allocation.location.code,
                "quantity": allocation.quantity,
                "kind": allocation.kind,
            }
        )
    Allocation.objects.filter(pk__in=[a.pk for a in rows]).delete()
    return released


@transaction.atomic
def order_cancel(*, order: Order, reason: str = "", actor=None) -> Order:
    """Cancel an order that has not shipped: every reservation is released in the same transaction."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status not in CANCELLABLE:
        raise InvalidTransition(
            f"An order that is {order.status} cannot be cancelled.",
            details={"number": order.number, "status": order.status, "to": OrderStatus.CANCELLED},
        )
    allocations = list(Allocation.objects.filter(line__order=order).select_related("line", "location"))
    packed = [a for a in allocations if a.consumed_at is not None]
    released = allocations_release(allocations=[a for a in allocations if a.consumed_at is None])
    # Parcels closed but not handed over: cancelled, their units go back on the shelf.
    shipping_services.shipments_cancel(order_id=order.pk)
    for allocation in sorted(packed, key=lambda a: (a.line.product_id, a.location_id)):
        inventory_services.stock_put_back(
            product_id=allocation.line.product_id,
            location_id=allocation.location_id,
            quantity=allocation.quantity,
            actor=actor,
            reference=order.number,
        )
        released.append(
            {
                "sku": allocation.line.sku,
                "location": allocation.location.code,
                "quantity": allocation.quantity,
                "kind": "packed",
            }
        )
    Allocation.objects.filter(pk__in=[a.pk for a in packed]).delete()
    preparations_cancel(order_id=order.pk)
    capacity_release(order_id=order.pk)
    order.cancel_reason = reason[:255]
    order.save(update_fields=["cancel_reason", "updated_at"])
    _transition(
        order=order,
        to=OrderStatus.CANCELLED,
        actor=actor,
        message=_("Order cancelled: %(reason)s. %(count)s reservation(s) released."),
        params={"reason": reason or _("no reason given"), "count": len(released)},
        data={"reason": reason, "released": released},
    )
    order_cancelled.send(sender=Order, order=order)
    return order
