"""The domain events fulfillment writes to the log (common/eventlog.py), in the transaction of the change.
Fulfillment never reads the orders' tables; ``orders`` consumes these after commit and moves the order on.

- ``preparation.started`` [location_id, location]: the first unit of the order was picked at a location.
- ``preparation.picked`` [location_id, location, location_code]: every unit to prepare there is picked.
- ``pick.shorted`` [line_id, sku, location_id, location, location_code, quantity, reason]: units were
  found missing or damaged; inventory already wrote them off and shrank the line's allocation there.
- ``parcel.closed`` [shipment_id, parcel, location_id, location, location_code, weight_g, lines[{line_id,
  sku, quantity}]]: a parcel left the pack station; its units left the stock in the same transaction.
- ``pickup.ready`` [location_id, location]: a click & collect order's units are set aside at the store.
"""

from common.eventlog import NewEvent, emit_many

from .models import Preparation


def preparation_event(code: str, *, prep: Preparation, actor=None, **payload) -> None:
    emit_many([preparation_new_event(code, prep=prep, actor=actor, **payload)])


def preparation_new_event(code: str, *, prep: Preparation, actor=None, **payload) -> NewEvent:
    """The event, for a caller that writes it with others in one statement (the parcel close)."""
    location = prep.location
    return NewEvent(
        code,
        {
            "location_id": prep.location_id,
            "location": location.name,
            "location_code": location.code,
            **payload,
        },
        prep.order_id,
        f"preparation:{prep.pk}",
        actor,
    )
