"""Receivers of the orders' signals: each a short call into this app's services. They run inside the
sender's transaction, so an invoice commits or rolls back with the shipment or status change."""

from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from orders.notifications import notify_refund_issued
from orders.signals import (
    order_cancelled,
    order_created,
    order_parcels_shipped,
    order_status_changed,
    return_refunded,
)

from .services.issue import credit_notes_for_order, credit_notes_for_return, on_order_event


@receiver(order_created, dispatch_uid="invoicing.order_created")
def on_order_created(sender, *, order, **kwargs):
    on_order_event(order=order, event="created")


@receiver(order_status_changed, dispatch_uid="invoicing.order_status_changed")
def on_order_status_changed(sender, *, order, old_status, new_status, actor=None, **kwargs):
    on_order_event(order=order, event=new_status, actor=actor)


@receiver(order_cancelled, dispatch_uid="invoicing.order_cancelled")
def on_order_cancelled(sender, *, order, **kwargs):
    # An order invoiced when it was placed and then cancelled: credit what was invoiced.
    credit_notes_for_order(order=order, reason=_("Order cancelled."))


@receiver(order_parcels_shipped, dispatch_uid="invoicing.order_parcels_shipped")
def on_order_parcels_shipped(sender, *, order, **kwargs):
    # A second partial shipment: the order stays partially shipped, its new units are invoiced now.
    on_order_event(order=order, event="partially_shipped")


@receiver(return_refunded, dispatch_uid="invoicing.return_refunded")
def on_return_refunded(
    sender, *, order, quantities, include_shipping, amount, reason="", actor=None, **kwargs
):
    """A return was refunded: credit its units on the order's invoice(s), then tell the customer with the
    credit note's number. Answers the numbers, which the return keeps."""
    notes = credit_notes_for_return(
        order=order, quantities=quantities, include_shipping=include_shipping, reason=reason, actor=actor
    )
    numbers = [note.number for note in notes]
    if numbers:  # an order never invoiced has no credit note to announce (the return's page says so)
        notify_refund_issued(order=order, credit_note_number=", ".join(numbers), amount=amount)
    return numbers
