"""Keep the cached carrier network in step with its master data (any save or delete)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .models import Carrier, CarrierService, ServiceRate, ServiceTransit
from .selectors import network_changed


def _changed(sender, **kwargs):
    # Now, for this process inside the transaction; and again after commit, so that a process that read
    # the network between the two (still seeing the old rows) reloads it.
    network_changed()
    transaction.on_commit(network_changed)


for _model in (Carrier, CarrierService, ServiceRate, ServiceTransit):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"shipping.network.save.{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"shipping.network.delete.{_model.__name__}")
