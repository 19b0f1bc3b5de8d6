"""Receivers of lower layers' signals: each a short call into this app's services."""

from django.dispatch import receiver

from fulfillment import signals as fulfillment_signals
from inventory.signals import incoming_stock_received
from shipping import signals as shipping_signals

from . import notifications
from .models import Order
from .services import fulfilment
from .services.allocation import allocations_convert_incoming
from .signals import order_created, order_status_changed


@receiver(incoming_stock_received, dispatch_uid="orders.incoming_stock_received")
def on_incoming_stock_received(sender, *, incoming_id, product_id, location_id, converted, **kwargs):
    if converted:
        allocations_convert_incoming(incoming_id=incoming_id, location_id=location_id, converted=converted)


@receiver(fulfillment_signals.preparation_started, dispatch_uid="orders.preparation_started")
def on_preparation_started(sender, *, order_id, location_id, actor=None, **kwargs):
    fulfilment.preparation_started(order_id=order_id, location_id=location_id, actor=actor)


@receiver(fulfillment_signals.preparation_picked, dispatch_uid="orders.preparation_picked")
def on_preparation_picked(sender, *, order_id, location_id, actor=None, **kwargs):
    fulfilment.preparation_picked(order_id=order_id, location_id=location_id, actor=actor)


@receiver(fulfillment_signals.pick_shorted, dispatch_uid="orders.pick_shorted")
def on_pick_shorted(sender, *, order_id, order_line_id, location_id, quantity, reason, actor=None, **kwargs):
    fulfilment.line_resource(
        order_id=order_id,
        order_line_id=order_line_id,
        location_id=location_id,
        quantity=quantity,
        reason=reason,
        actor=actor,
    )


@receiver(fulfillment_signals.parcel_closed, dispatch_uid="orders.parcel_closed")
def on_parcel_closed(sender, *, order_id, location_id, shipment, lines, actor=None, **kwargs):
    fulfilment.parcel_closed(
        order_id=order_id, location_id=location_id, shipment=shipment, lines=lines, actor=actor
    )


@receiver(fulfillment_signals.pickup_ready, dispatch_uid="orders.pickup_ready")
def on_pickup_ready(sender, *, order_id, location_id, actor=None, **kwargs):
    fulfilment.pickup_ready(order_id=order_id, location_id=location_id, actor=actor)


# The customer is told at every step: the message is written in the transaction that changed the order
# (these signals are sent inside it) and sent after commit (orders/notifications.py).
@receiver(order_created, sender=Order, dispatch_uid="orders.notify_created")
def on_order_created_notify(sender, *, order, **kwargs):
    notifications.order_notify_created(order=order)


@receiver(order_status_changed, sender=Order, dispatch_uid="orders.notify_status")
def on_order_status_changed_notify(sender, *, order, old_status, new_status, **kwargs):
    notifications.order_notify_status(order=order, old_status=old_status, new_status=new_status)


@receiver(shipping_signals.parcels_handed_over, dispatch_uid="orders.parcels_handed_over")
def on_parcels_handed_over(sender, *, manifest, shipments, **kwargs):
    fulfilment.parcels_handed_over(shipments=shipments, actor=manifest.created_by)


@receiver(shipping_signals.shipment_status_changed, dispatch_uid="orders.shipment_status_changed")
def on_shipment_status_changed(sender, *, shipment, old_status, new_status, event=None, **kwargs):
    fulfilment.shipment_moved(shipment=shipment, old_status=old_status, new_status=new_status, event=event)
