"""The returns' consumer of the domain event log: a return label slipped in a parcel that its carrier scanned
opens the return request (the customer registering it in the portal opens it there, at once)."""

from common.eventlog import consumer
from shipping.models import ParcelReturnLabel

from .services import return_from_label_in_parcel


@consumer("returns.label_in_parcel", codes={"return_label.used"})
def on_return_label_used(event) -> None:
    if event.payload.get("how") != "scanned":
        return
    label = ParcelReturnLabel.objects.select_related("shipment").get(pk=event.payload["label_id"])
    return_from_label_in_parcel(label=label, how="scanned")
