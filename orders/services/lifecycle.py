"""The order's status machine: one function per transition. Each checks the move is allowed (with a
conditional UPDATE, so two concurrent moves cannot both succeed) and writes ``order.status_changed`` to the
event log in the caller's transaction; what follows a move (hand-over to the locations, the customer's
message, invoicing, the channel) is done by the log's consumers after commit."""

from django.db import transaction
from django.utils import timezone

from fulfillment import services as fulfillment_services
from inventory import services as inventory_services
from shipping import services as shipping_services

from ..exceptions import InvalidTransition
from ..locks import lock_order
from ..models import CANCELLABLE, ORDER_TRANSITIONS, Order, OrderLocation, OrderStatus
from .events import event_add


def _transition(*, order: Order, to: str, actor=None, locked: bool = False, **data) -> Order:
    """``locked``: the caller locked ``order`` in this transaction (``lock_order``) and has not changed its
    status since, so its status is the current one and is not read again (the update stays conditional)."""
    if locked:
        current = order.status
    else:
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
    event_add(order=order, code="order.status_changed", actor=actor, **{"from": current, "to": to, **data})
    return order


def order_mark_allocated(*, order: Order, actor=None, **data) -> Order:
    """Allocated from stock: the locations holding the stock get the order to prepare (consumer
    ``orders.handover``)."""
    return _transition(order=order, to=OrderStatus.ALLOCATED, actor=actor, **data)


def order_mark_awaiting_stock(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.AWAITING_STOCK, actor=actor, **data)


def order_start_preparation(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.IN_PREPARATION, actor=actor, **data)


def order_start_preparation_if_allocated(*, order_id: int, actor=None) -> bool:
    """The first pick's move, allocated → in preparation, for the consumer that hears of it: the order's
    row is locked by the conditional UPDATE itself (nothing read first, first in the lock order as
    ``lock_order`` would take it). False, nothing written, when the order is no longer allocated."""
    current, to = OrderStatus.ALLOCATED, OrderStatus.IN_PREPARATION
    if not Order.objects.filter(pk=order_id, status=current).update(status=to, updated_at=timezone.now()):
        return False
    OrderLocation.objects.filter(order_id=order_id).update(status=to)
    event_add(order=order_id, code="order.status_changed", actor=actor, **{"from": current, "to": to})
    return True


def order_mark_partially_shipped(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.PARTIALLY_SHIPPED, actor=actor, **data)


def order_mark_shipped(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.SHIPPED, actor=actor, **data)


def order_mark_out_for_delivery(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.OUT_FOR_DELIVERY, actor=actor, **data)


def order_mark_ready_for_pickup(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.READY_FOR_PICKUP, actor=actor, **data)


def order_mark_delivered(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.DELIVERED, actor=actor, **data)


def order_mark_returned(*, order: Order, actor=None, **data) -> Order:
    return _transition(order=order, to=OrderStatus.RETURNED, actor=actor, **data)


@transaction.atomic
def order_cancel(
    *,
    order: Order,
    reason: str = "",
    actor=None,
    source: str = "",
    with_lines: bool = False,
    reason_code: str = "",
) -> Order:
    """Cancel an order that has not shipped, all in this transaction (so no picker or packer can go on with
    it): its preparations stop, its parcels not handed over are cancelled and their units go back on the
    shelf, every reservation is released. ``source``: who asked (a channel's kind when the channel itself
    cancelled it, so nothing is sent back to it); ``with_lines``: the last units cancelled one by one (the
    same transaction writes ``order.lines_cancelled``, which says which); ``reason_code``: the marketplace's
    reason code chosen by staff (else its connector's default is sent).
    Locks in the project's order: the order, its preparations, its
    shipments, its allocations, the stock levels."""
    order = lock_order(order.pk)
    if order.status not in CANCELLABLE:
        raise InvalidTransition(
            f"An order that is {order.status} cannot be cancelled.",
            details={"number": order.number, "status": order.status, "to": OrderStatus.CANCELLED},
        )
    fulfillment_services.preparations_cancel(order_id=order.pk)
    shipping_services.shipments_cancel(order_id=order.pk)
    released = inventory_services.allocations_release(order_id=order.pk)
    released += inventory_services.allocations_put_back(
        order_id=order.pk, actor=actor, reference=order.number
    )
    order.cancel_reason = reason[:255]
    order.save(update_fields=["cancel_reason", "updated_at"])
    _transition(order=order, to=OrderStatus.CANCELLED, actor=actor, reason=reason)
    event_add(
        order=order,
        code="order.cancelled",
        actor=actor,
        reason=reason,
        reason_code=reason_code[:64],
        source=source,
        with_lines=with_lines,
        count=len(released),
        released=released,
        product_ids=sorted({r["product_id"] for r in released}),
    )
    return order
