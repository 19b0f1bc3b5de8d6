"""Domain signals of the fulfillment app, sent inside the transaction that made the change; ``orders``
receives them and moves the order on (status, stock consumption, re-sourcing, timeline)."""

from django.dispatch import Signal

# The first unit of an order was picked at a location. kwargs: order_id, location_id, actor
preparation_started = Signal()

# Every unit of an order to prepare at a location is picked. kwargs: order_id, location_id, actor
preparation_picked = Signal()

# Units of an order line were found missing or damaged while picking; they were written off the stock
# and their reservation released. The receiver shrinks the allocation and re-sources the units.
# kwargs: order_id, order_line_id, location_id, quantity, reason, actor
pick_shorted = Signal()

# A parcel was closed at the pack station and its shipment created; its units leave the reserved stock.
# kwargs: order_id, location_id, shipment, lines (list of (order_line_id, product_id, quantity)), actor
parcel_closed = Signal()

# A click & collect order is set aside at its store. kwargs: order_id, location_id, actor
pickup_ready = Signal()
