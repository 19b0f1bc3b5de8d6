"""The domain events shipping writes to the log (common/eventlog.py), in the transaction of the change;
``orders`` consumes them after commit and moves the order on.

- ``parcels.handed_over`` [manifest, carrier, parcels[{shipment_id, number}]]: one per order whose parcels
  left with a carrier's driver.
- ``shipment.status_changed`` [shipment_id, parcel, from, to, code, label]: carrier news moved a parcel.
- ``return_label.used`` [label_id, how, tracking, parcel]: a return label slipped in a parcel was first
  scanned by its carrier (``how="scanned"``) or registered by the customer (``"registered"``).
"""

from common.eventlog import NewEvent, emit, emit_many


def handed_over(*, manifest, shipments, actor=None) -> None:
    per_order: dict[int, list] = {}
    for shipment in shipments:
        per_order.setdefault(shipment.order_id, []).append(
            {"shipment_id": shipment.pk, "number": shipment.number}
        )
    emit_many(
        [
            NewEvent(
                "parcels.handed_over",
                {"manifest": manifest.pk, "carrier": manifest.carrier.name, "parcels": parcels},
                order_id=order_id,
                subject=f"manifest:{manifest.pk}",
                actor=actor,
            )
            for order_id, parcels in sorted(per_order.items())
        ]
    )


def status_changed(*, shipment, old_status: str, event=None) -> None:
    emit(
        "shipment.status_changed",
        payload={
            "shipment_id": shipment.pk,
            "parcel": shipment.number,
            "from": old_status,
            "to": shipment.status,
            "code": getattr(event, "code", "") or "",
            "label": getattr(event, "label", "") or "",
        },
        order_id=shipment.order_id,
        subject=f"shipment:{shipment.pk}",
    )


def statuses_changed(changes) -> None:
    """``shipment.status_changed`` for several parcels in one statement: ``changes`` is a list of
    ``(shipment, old status, carrier event)`` (the tracking poll's batches)."""
    emit_many([_status_changed(shipment, old, event) for shipment, old, event in changes])


def _status_changed(shipment, old_status: str, event) -> NewEvent:
    return NewEvent(
        "shipment.status_changed",
        {
            "shipment_id": shipment.pk,
            "parcel": shipment.number,
            "from": old_status,
            "to": shipment.status,
            "code": getattr(event, "code", "") or "",
            "label": getattr(event, "label", "") or "",
        },
        order_id=shipment.order_id,
        subject=f"shipment:{shipment.pk}",
    )


def return_label_used(*, label, how: str) -> None:
    shipment = label.shipment
    emit(
        "return_label.used",
        payload={
            "label_id": label.pk,
            "how": how,
            "tracking": label.tracking_number,
            "parcel": shipment.number,
        },
        order_id=shipment.order_id,
        subject=f"return_label:{label.pk}",
    )
