"""Domain signals of the orders app, sent inside the transaction that made the change."""

from django.dispatch import Signal

# kwargs: order
order_created = Signal()
# kwargs: order, old_status, new_status, actor
order_status_changed = Signal()
# kwargs: order (its reservations are released)
order_cancelled = Signal()
# More parcels of an order left while its status did not change (a second partial shipment).
# kwargs: order, shipments
order_parcels_shipped = Signal()
# kwargs: ret (the Return), order, quantities ({order line id: units}), include_shipping, amount (the
# refund, Decimal), reason, actor.
# Sent when staff refund a return; invoicing answers with the credit notes it issued (list of numbers).
return_refunded = Signal()
