"""The payments' consumer of the event log (``orders.payments``): capture when the order has shipped, void the
authorisation of an order cancelled before it shipped, refund when a credit note is issued or a return is
refunded. It only writes the pending transaction (with its
idempotency key, so an event handled twice asks once); the provider is called by the transaction's task."""

from decimal import Decimal

from common.eventlog import consumer

from ..locks import lock_order
from ..models import Order, OrderStatus
from ..services.goodwill import MARKETPLACE_KINDS
from . import services


def _asks_something(event) -> bool:
    """Of the status moves, only the move to shipped asks for something (a capture)."""
    return event.order_id is not None and (
        event.code != "order.status_changed" or event.payload.get("to") == OrderStatus.SHIPPED
    )


@consumer(
    "orders.payments",
    accepts=_asks_something,
    codes={
        "order.status_changed",
        "order.cancelled",
        "order.edited",
        "order.lines_cancelled",
        "credit_note.issued",
        "return.refunded",
        "order.goodwill_refunded",
    },
)
def on_payment_news(event) -> None:
    if not _asks_something(event):
        return  # the order is not read for a move that asks nothing
    p, actor = event.payload, event.actor
    if event.code == "order.status_changed":
        if p.get("to") == OrderStatus.SHIPPED:
            # the capture locks the order: locked at once rather than read, then locked
            services.payment_capture_request(order=lock_order(event.order_id), actor=actor, locked=True)
        return
    order = Order.objects.select_related("channel").get(pk=event.order_id)
    match event.code:
        case "order.cancelled" | "order.edited" | "order.lines_cancelled":
            # nothing left to capture from an authorisation (the order cancelled, whole or unit by unit): it
            # is voided at the payment service; a partial cancellation only lowers what the capture takes
            services.payment_void_request(order=order, actor=actor)
            # the order costs less than what was paid: the difference goes back (once per change)
            services.payment_refund_excess(order=order, key=f"{event.code}-{event.pk}", actor=actor)
        case "credit_note.issued":
            # refunded with the return or the change, or by the marketplace itself
            if p.get("return_id") or p.get("order_change") or p.get("channel_refund") or p.get("goodwill"):
                return
            services.payment_refund_request(
                order=order, amount=Decimal(str(p["total_incl_vat"])), credit_note=p["number"], actor=actor
            )
        case "order.goodwill_refunded":
            # an amount given back without units: through the payment service, or recorded as made; a
            # marketplace's order is paid back by the marketplace (OR28, channels)
            if order.channel.kind in MARKETPLACE_KINDS or p.get("source") in MARKETPLACE_KINDS:
                return
            services.payment_refund_for_return(
                order=order,
                amount=Decimal(str(p["amount"])),
                return_number=f"goodwill-{p['refund']}",
                reference="",
                actor=actor,
            )
        case "return.refunded":
            services.payment_refund_for_return(
                order=order,
                amount=Decimal(str(p["amount"])),
                return_number=p["return"],
                reference=p.get("reference", ""),
                actor=actor,
            )
