"""Consumers of the domain event log (``common/eventlog.py``) that belong to orders: what follows a change
of an order, or of its units on the floor, after that change committed. Each handler runs in its
consumer's transaction (in a savepoint when a batch runs again after a failure), is safe to run again on
the same event (it reads the current state, or its writes are deduplicated), and only writes to the
database (messages go through the outbox).

- ``orders.lifecycle``: moves the order on from what the floor, the carriers and inventory did (first pick,
  short pick re-sourced, carrier choice for a closed parcel, ready for pickup, handed over, carrier news,
  replenishment received).
- ``orders.handover``: tells each location what to prepare whenever the order's stock allocations or its
  status change.
- ``orders.notifications``: the customer's messages (outbox ``customers.Notification``).
- ``orders.capacity``: books (and gives back) the pickers' capacity the promise was built on.
- ``orders.address_book``: keeps the customer's delivery address in their address book.
"""

from datetime import date, datetime
from decimal import Decimal

from django.utils.dateparse import parse_date, parse_datetime

from common.eventlog import consumer
from customers import services as customer_services
from fulfillment import services as fulfillment_services

from . import notifications
from .locks import lock_order
from .models import Order, OrderStatus
from .services import fulfilment
from .services.handover import preparations_sync

HANDOVER_STATUSES = {
    OrderStatus.ALLOCATED,
    OrderStatus.IN_PREPARATION,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.AWAITING_STOCK,
}


def _moves_the_order(event) -> bool:
    """A replenishment received moves the order only when it served some of its units; a carrier's news only
    when it says out for delivery, waiting for pickup or delivered (a parcel in transit moves nothing: its
    order is not locked for it)."""
    if event.order_id is None:
        return False
    if event.code == "stock.incoming_received":
        return bool(event.payload.get("served"))
    if event.code == "shipment.status_changed":
        return event.payload.get("to") in fulfilment.SHIPMENT_STATUSES_THAT_MOVE_ORDERS
    return True


@consumer(
    "orders.lifecycle",
    accepts=_moves_the_order,
    codes={
        "preparation.started",
        "pick.shorted",
        "pickup.ready",
        "parcel.closed",
        "parcels.handed_over",
        "shipment.status_changed",
        "stock.incoming_received",
    },
)
def on_floor_event(event) -> None:
    if not _moves_the_order(event):
        return
    p, actor = event.payload, event.actor
    match event.code:
        case "preparation.started":
            fulfilment.preparation_started(order_id=event.order_id, actor=actor)
        case "pick.shorted":
            fulfilment.line_resource(
                order_id=event.order_id,
                order_line_id=p["line_id"],
                product_id=p.get("product_id"),
                location_id=p["location_id"],
                quantity=p["quantity"],
                reason=p["reason"],
                actor=actor,
            )
        case "pickup.ready":
            fulfilment.pickup_ready(order_id=event.order_id, location_id=p["location_id"], actor=actor)
        case "parcel.closed":
            fulfilment.parcel_closed(order_id=event.order_id, shipment_id=p["shipment_id"], actor=actor)
        case "parcels.handed_over":
            fulfilment.parcels_handed_over(order_id=event.order_id, actor=actor)
        case "shipment.status_changed":
            fulfilment.shipment_moved(
                order_id=event.order_id, shipment_id=p["shipment_id"], new_status=p["to"]
            )
        case "stock.incoming_received":
            if p.get("served"):
                fulfilment.incoming_served(order_id=event.order_id, actor=actor)


def _changes_preparations(event) -> bool:
    if event.order_id is None:
        return False
    if event.code == "order.status_changed" and event.payload.get("to") not in HANDOVER_STATUSES:
        return False
    if event.code == "order.status_changed" and event.payload.get("to") == OrderStatus.IN_PREPARATION:
        # the first pick (only ever from "allocated", ``ORDER_TRANSITIONS``): no allocation changed, and
        # both statuses prepare, so the sync that followed "allocated" (or the later allocation change's
        # own event) already made the preparations what this one would
        return False
    return event.code != "stock.incoming_received" or bool(event.payload.get("served"))


@consumer(
    "orders.handover",
    accepts=_changes_preparations,
    codes={
        "order.status_changed",
        "order.resourced",
        "stock.incoming_received",
        "order.lines_changed",
        "order.hold_placed",
        "order.hold_released",
    },
)
def on_allocations_changed(event) -> None:
    if not _changes_preparations(event):
        return
    order = lock_order(event.order_id, related=("customer",))
    preparations_sync(order=order)


def _has_message(event) -> bool:
    """Most status moves have no message (``notifications.status_has_message``)."""
    if event.order_id is None:
        return False
    p = event.payload
    return event.code != "order.status_changed" or notifications.status_has_message(
        old_status=p.get("from"), new_status=p.get("to")
    )


@consumer(
    "orders.notifications",
    accepts=_has_message,
    locks=False,  # reads the order, inserts its message (``ON CONFLICT`` on its dedup key)
    codes={
        "order.created",
        "order.status_changed",
        "parcels.handed_over",
        "return.accepted",
        "return.label_sent",
        "return.credited",
        "order.edited",
        "order.lines_cancelled",
        "order.goodwill_refunded",
    },
)
def on_customer_news(event) -> None:
    if not _has_message(event):
        return  # most moves have no message: the order is not read for them
    p = event.payload
    order = notifications.order_for_message(event.order_id)
    match event.code:
        case "order.created":
            notifications.order_notify_created(order=order)
        case "order.status_changed":
            notifications.order_notify_status(order=order, old_status=p["from"], new_status=p["to"])
        case "parcels.handed_over":
            notifications.order_notify_parcels_shipped(order=order)
        case "return.accepted":
            if p.get("store"):  # a return in store: no label to wait for
                notifications.notify_return_accepted(order=order, return_reference=p["number"])
        case "return.label_sent":
            notifications.notify_return_accepted(
                order=order, return_reference=p["number"], label_url=p.get("label_url", "")
            )
        case "order.edited":
            notifications.notify_order_changed(order=order, change_id=p["change"], difference=p["difference"])
        case "order.lines_cancelled":
            if order.status != "cancelled":  # a whole cancellation has its own message
                notifications.notify_order_changed(
                    order=order,
                    change_id=p["change"],
                    difference=-Decimal(str(p["amount"])),
                    cancelled=p.get("lines", []),
                )
        case "order.goodwill_refunded":  # an amount given back without units
            notifications.notify_goodwill_refund(order=order, refund_id=p["refund"], amount=p["amount"])
        case "return.credited":  # a refunded return: the customer is told with the credit notes' numbers
            notifications.notify_refund_issued(
                order=order, credit_note_number=", ".join(p["credit_notes"]), amount=p["amount"]
            )


@consumer("orders.capacity", codes={"order.promised", "order.cancelled"}, ordered=False)
def on_promise(event) -> None:
    if event.order_id is None:
        return
    if event.code == "order.cancelled":
        fulfillment_services.capacity_release(order_id=event.order_id)
        return
    for parcel in event.payload.get("capacity", []):
        fulfillment_services.capacity_book_lines(
            order_id=event.order_id,
            location_id=parcel["location_id"],
            lines=parcel["lines"],
            slots=[
                fulfillment_services.ShiftSlot(
                    shift_id=slot["shift_id"],
                    date=_date(slot["date"]),
                    start=_datetime(slot["start"]),
                    end=_datetime(slot["end"]),
                    lines=slot["lines"],
                )
                for slot in parcel["slots"]
            ],
        )


@consumer("orders.address_book", codes={"order.created"}, ordered=False, locks=False)
def on_order_created_address(event) -> None:
    delivery = event.payload.get("delivery") or {}
    address = delivery.get("address")
    if event.order_id is None or not address:
        return
    # the intake names the customer in its event (older events: read from the order)
    customer_id = event.payload.get("customer_id") or (
        Order.objects.filter(pk=event.order_id).values_list("customer_id", flat=True).get()
    )
    customer_services.address_keep(customer_id=customer_id, address=address)


def _date(value) -> date:
    return value if isinstance(value, date) else parse_date(value)


def _datetime(value) -> datetime:
    return value if isinstance(value, datetime) else parse_datetime(value)
