"""Domain signals of the inventory app (received by higher layers, sent inside the sender's transaction)."""

from django.dispatch import Signal

# Units of an incoming replenishment arrived; ``converted`` of them were reserved for pre-orders and are now
# reserved in stock at ``location_id``. Receivers allocate the waiting orders in order of arrival.
# kwargs: incoming_id, product_id, location_id, converted
incoming_stock_received = Signal()

# Availability of products changed (stock or incoming, reserved or on hand). kwargs: product_ids
availability_changed = Signal()
