"""Receivers of lower layers' signals: each a short call into this app's services."""

from django.dispatch import receiver

from inventory.signals import incoming_stock_received

from .services.allocation import allocations_convert_incoming


@receiver(incoming_stock_received, dispatch_uid="orders.incoming_stock_received")
def on_incoming_stock_received(sender, *, incoming_id, product_id, location_id, converted, **kwargs):
    if converted:
        allocations_convert_incoming(incoming_id=incoming_id, location_id=location_id, converted=converted)
