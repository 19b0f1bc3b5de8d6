"""Receivers of lower layers' signals: each a short call into this app's services."""

from django.dispatch import receiver

from inventory.signals import incoming_stock_received

from . import notifications
from .models import Order
from .services.allocation import allocations_convert_incoming
from .signals import order_created, order_status_changed


@receiver(incoming_stock_received, dispatch_uid="orders.incoming_stock_received")
def on_incoming_stock_received(sender, *, incoming_id, product_id, location_id, converted, **kwargs):
    if converted:
        allocations_convert_incoming(incoming_id=incoming_id, location_id=location_id, converted=converted)


# The customer is told at every step: the message is written in the transaction that changed the order
# (these signals are sent inside it) and sent after commit (orders/notifications.py).
@receiver(order_created, sender=Order, dispatch_uid="orders.notify_created")
def on_order_created_notify(sender, *, order, **kwargs):
    notifications.order_notify_created(order=order)


@receiver(order_status_changed, sender=Order, dispatch_uid="orders.notify_status")
def on_order_status_changed_notify(sender, *, order, old_status, new_status, **kwargs):
    notifications.order_notify_status(order=order, old_status=old_status, new_status=new_status)
