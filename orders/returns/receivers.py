"""The returns' answer to shipping: a return label slipped in a parcel was used, so the return request
opens (issue 20). Kept apart from orders/receivers.py, which the event log will replace."""

from django.dispatch import receiver

from shipping.models import ParcelReturnLabel
from shipping.signals import return_label_used

from .services import return_from_label_in_parcel


@receiver(return_label_used, sender=ParcelReturnLabel, dispatch_uid="orders.returns.label_in_parcel_used")
def on_return_label_used(sender, label, how, **kwargs):
    if how == "scanned":
        return_from_label_in_parcel(label=label, how=how)
