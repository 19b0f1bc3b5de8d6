"""Holds: an order on hold (payment pending, fraud review, address to check, manual) keeps its reservations
but is not handed to the locations' picking until every hold is cleared (consumer ``orders.handover`` reads
``Order.holds``). Holds and releases are on the timeline. The caller holds the order's lock
(``lock_order``); the public services take it themselves."""

from django.db import transaction

from ..exceptions import EditRefused
from ..locks import lock_order
from ..models import HoldKind, Order, OrderStatus
from .events import event_add

# Once picking started, the units are on the floor: a hold would stop nothing.
HOLDABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.AWAITING_STOCK})


def hold_remove(*, order: Order, kind: str, actor=None, note: str = "") -> bool:
    """Clear one hold of a locked order (in the caller's transaction). False if it was not held so."""
    if kind not in order.holds:
        return False
    order.holds = [h for h in order.holds if h != kind]
    Order.objects.filter(pk=order.pk).update(holds=order.holds)
    event_add(order=order, code="order.hold_released", actor=actor, kind=kind, note=note, holds=order.holds)
    return True


@transaction.atomic
def order_hold_place(*, order: Order, kind: str, reason: str = "", actor=None) -> Order:
    """Put the order on hold before picking starts: the preparations not started are withdrawn from the
    locations (consumer ``orders.handover``) and come back when the last hold is cleared."""
    order = lock_order(order.pk)
    if kind not in HoldKind.values:
        raise EditRefused(f"Unknown hold {kind!r}.", code="validation_error", details={"kind": [kind]})
    if order.status not in HOLDABLE:
        raise EditRefused(
            f"Order {order.number} is {order.get_status_display().lower()}: picking has started or it has "
            "left, a hold would stop nothing. Cancel the lines instead.",
            details={"number": order.number, "status": order.status},
        )
    if kind in order.holds:
        return order
    order.holds = [*order.holds, kind]
    Order.objects.filter(pk=order.pk).update(holds=order.holds)
    event_add(
        order=order, code="order.hold_placed", actor=actor, kind=kind, reason=reason[:255], holds=order.holds
    )
    return order


@transaction.atomic
def order_hold_release(*, order: Order, kind: str, actor=None, note: str = "") -> Order:
    order = lock_order(order.pk)
    if not hold_remove(order=order, kind=kind, actor=actor, note=note):
        raise EditRefused(
            f"Order {order.number} is not on a {kind} hold.", details={"number": order.number, "kind": kind}
        )
    return order
