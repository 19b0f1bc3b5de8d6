"""The domain events inventory writes to the log (common/eventlog.py). Inventory has no consumers: it is
told what to do by calls to its services, and tells the layers above what happened through these events.

- ``stock.availability_changed`` ``{"product_ids": [...]}``: free or pre-orderable units of these
  products changed (the channels' availability feed and stock push read it).
- ``stock.incoming_received`` ``{"incoming": id, "product_id", "location_id", "quantity",
  "served": [{"order_id", "line_id", "quantity"}]}``: a replenishment arrived; ``served`` are the pre-order
  units now reserved in stock, in order of arrival (one event per order served, so each order's consumers
  see it in the order's stream; one event with ``served`` empty when no pre-order waited).
"""

from common.eventlog import NewEvent, emit, emit_many

AVAILABILITY_CHANGED = "stock.availability_changed"
INCOMING_RECEIVED = "stock.incoming_received"


def availability_changed(*, product_ids) -> None:
    ids = sorted({int(p) for p in product_ids})
    if ids:
        emit(AVAILABILITY_CHANGED, payload={"product_ids": ids})


def availability_event(*, product_ids) -> NewEvent:
    """The event, for a caller that writes several events in one statement (intake)."""
    return NewEvent(AVAILABILITY_CHANGED, {"product_ids": sorted({int(p) for p in product_ids})})


def incoming_received(*, incoming, quantity: int, served: list[dict], actor=None) -> None:
    base = {
        "incoming": incoming.pk,
        "product_id": incoming.product_id,
        "location_id": incoming.location_id,
        "quantity": quantity,
    }
    per_order: dict[int, list[dict]] = {}
    for item in served:
        per_order.setdefault(item["order_id"], []).append(
            {"line_id": item["line_id"], "quantity": item["quantity"]}
        )
    if not per_order:
        emit(
            INCOMING_RECEIVED, payload={**base, "served": []}, subject=f"incoming:{incoming.pk}", actor=actor
        )
        return
    emit_many(
        [
            NewEvent(
                INCOMING_RECEIVED,
                {**base, "served": lines},
                order_id=order_id,
                subject=f"incoming:{incoming.pk}",
                actor=actor,
            )
            for order_id, lines in sorted(per_order.items())
        ]
    )
