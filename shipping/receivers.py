"""Keep the cached carrier network in step with its master data (any save or delete)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .models import Carrier, CarrierService, ServiceRate, ServiceTransit
from .selectors import network_changed, network_forget


def _changed(sender, **kwargs):
    # Now, for this process inside the transaction; and once after commit for every process (the version
    # row is raised then), so that a process that read the network meanwhile (still seeing the old rows)
    # reloads it. A grid saved row by row raises the version once.
    network_forget()
    connection = transaction.get_connection()
    queued = (func for _savepoints, func, _robust in connection.run_on_commit)
    if connection.in_atomic_block and any(func is network_changed for func in queued):
        return
    transaction.on_commit(network_changed)


for _model in (Carrier, CarrierService, ServiceRate, ServiceTransit):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"shipping.network.save.{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"shipping.network.delete.{_model.__name__}")
