"""Pre-orders become stock allocations when their replenishment arrives, in order of arrival."""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import Allocation, Order, OrderStatus
from . import lifecycle
from .events import event_add
from .handover import PREPARING, preparations_sync


@transaction.atomic
def allocations_convert_incoming(*, incoming_id: int, location_id: int, converted: int) -> list[Order]:
    """``converted`` units of incoming stock ``incoming_id`` are now reserved stock at ``location_id`` (the
    inventory service moved the counters). Move the same units of the oldest allocations on it from
    ``incoming`` to ``stock``; an order with nothing left to wait for becomes ``allocated``."""
    remaining = converted
    touched: dict[int, list[str]] = {}
    allocations = (
        Allocation.objects.select_for_update(of=("self",))
        .filter(incoming_id=incoming_id, kind=Allocation.Kind.INCOMING)
        .select_related("line")
        .order_by("line__order__created_at", "line__order_id", "pk")
    )
    for allocation in allocations:
        if remaining <= 0:
            break
        take = min(remaining, allocation.quantity)
        if take == allocation.quantity:
            allocation.kind = Allocation.Kind.STOCK
            allocation.incoming = None
            allocation.save(update_fields=["kind", "incoming"])
        else:
            allocation.quantity -= take
            allocation.save(update_fields=["quantity"])
            Allocation.objects.create(
                line=allocation.line, location_id=location_id, quantity=take, kind=Allocation.Kind.STOCK
            )
        remaining -= take
        touched.setdefault(allocation.line.order_id, []).append(f"{take} × {allocation.line.sku}")

    ready = []
    for order in Order.objects.filter(pk__in=touched).order_by("created_at", "pk"):
        waiting = Allocation.objects.filter(line__order=order, kind=Allocation.Kind.INCOMING).exists()
        detail = ", ".join(touched[order.pk])
        if order.status == OrderStatus.AWAITING_STOCK and not waiting:
            lifecycle.order_mark_allocated(
                order=order,
                message=_("Replenishment received, now allocated from stock: %(detail)s."),
                params={"detail": detail},
            )
            ready.append(order)
        else:
            event_add(
                order=order,
                type="stock_arrived",
                message=_("Replenishment received for: %(detail)s."),
                params={"detail": detail},
            )
            if order.status in PREPARING:  # e.g. a short-picked line of an order being prepared
                preparations_sync(order=order)
    return ready
