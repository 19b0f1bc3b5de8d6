"""Receivers of lower layers' signals: each a short call into this app's services."""

from django.dispatch import receiver

from fulfillment import signals as fulfillment_signals
from inventory.signals import incoming_stock_received

from .services import fulfilment
from .services.allocation import allocations_convert_incoming


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
