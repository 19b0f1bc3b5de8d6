"""The domain events customers writes to the log (common/eventlog.py), in the transaction of the change.

- ``customer.created`` ``{"customer_id"}``: a new customer (from an order of any channel, or by staff).
- ``customer.erased`` ``{"customer_id"}``: their personal data was erased at their request (RGPD); the
  payload carries nothing personal, so the log keeps nothing of them either.
"""

from common.eventlog import NewEvent, emit

CREATED = "customer.created"
ERASED = "customer.erased"


def created_event(*, customer) -> NewEvent:
    return NewEvent(CREATED, {"customer_id": customer.pk}, subject=f"customer:{customer.pk}")


def erased(*, customer, actor=None) -> None:
    emit(ERASED, payload={"customer_id": customer.pk}, subject=f"customer:{customer.pk}", actor=actor)
