"""The consumer of the domain event log that issues invoices and credit notes (``invoicing.issue``), by the
channel's issue policy: when the order is placed, when parcels are handed to the carrier (what left with
them), or on delivery; credit notes when an invoiced order is cancelled or a return is refunded. It runs
after the order's change committed, locks the order, then takes the invoice number in its own transaction
(ARCHITECTURE.md: only the number is atomic with the document, not with the shipment)."""

from decimal import Decimal

from common.eventlog import consumer
from orders.models import Order
from orders.returns import services as return_services
from orders.services.events import event_add

from .services.issue import credit_notes_for_order, credit_notes_for_return, on_order_event


@consumer(
    "invoicing.issue",
    codes={
        "order.created",
        "order.status_changed",
        "parcels.handed_over",
        "order.cancelled",
        "return.refunded",
    },
)
def on_order_news(event) -> None:
    if event.order_id is None:
        return
    order = Order.objects.select_related("customer", "channel").get(pk=event.order_id)
    p, actor = event.payload, event.actor
    match event.code:
        case "order.created":
            on_order_event(order=order, event="created", actor=actor)
        case "order.status_changed":
            if p.get("from") != "received":  # the intake's own first status: "created" covers it
                on_order_event(order=order, event=p["to"], actor=actor)
        case "parcels.handed_over":
            # Each hand-over invoices what left with it (a second partial shipment changes no status).
            on_order_event(order=order, event="partially_shipped", actor=actor)
        case "order.cancelled":
            # An order invoiced when it was placed and then cancelled: credit what was invoiced.
            credit_notes_for_order(order=order, reason=str(p.get("reason") or ""), actor=actor)
        case "return.refunded":
            notes = credit_notes_for_return(
                order=order,
                quantities={int(k): int(v) for k, v in p["quantities"].items()},
                include_shipping=p["include_shipping"],
                reason=p.get("reason", ""),
                actor=actor,
            )
            numbers = [note.number for note in notes]
            return_services.return_credit_notes_record(return_id=p["return_id"], numbers=numbers)
            if numbers:  # an order never invoiced has no credit note to announce (the return's page says so)
                event_add(
                    order=order,
                    code="return.credited",
                    actor=actor,
                    number=p["return"],
                    credit_notes=numbers,
                    amount=Decimal(p["amount"]),
                )
