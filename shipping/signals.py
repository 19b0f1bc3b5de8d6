"""Domain signals of the shipping app, sent inside the transaction that made the change."""

from django.dispatch import Signal

# A parcel's status moved (handed over, carrier tracking events). ``orders`` moves the order on.
# kwargs: shipment, old_status, new_status, event (the CarrierEvent that moved it, or None)
shipment_status_changed = Signal()

# Parcels were handed to a carrier's driver. kwargs: manifest, shipments
parcels_handed_over = Signal()

# A return label slipped in a parcel is being used: first scanned by the carrier (``how="scanned"``) or
# registered by the customer (``"registered"``). ``orders`` opens the return request. kwargs: label, how
return_label_used = Signal()
