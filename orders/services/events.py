"""The orders' domain events: written to the log (``common.eventlog``) in the transaction that made the
change, with a code and the parameters needed to tell it; the timeline renders them in the reader's
language at read time (``orders/timeline.py``), the consumers (``orders/events.py`` and other apps'
``events.py``) act on them after commit.

Codes written here (payload keys in brackets):
- ``order.created`` [channel, channel_code, source, count, total, currency, status, lines[{line_id,
  product_id, sku, quantity}], product_ids, delivery{mode, address}]
- ``order.sourced`` [the sourcing decision: strategy, chosen, candidates]
- ``order.promised`` [earliest, latest, parcels[...], capacity[{location_id, lines, slots}]]
- ``stock.reserved`` [allocations[{sku, location, quantity, kind, expected_on}]]
- ``order.status_changed`` [from, to, ...]
- ``order.cancelled`` [reason, released[...]]
- ``order.resourced`` [sku, line_id, location, quantity, reason, placed[...], unallocated]
- ``order.shipping_rule`` [rule, rule_name, service, service_name, parcel]
- ``order.not_collected`` [days, store]
"""

from datetime import date, datetime
from decimal import Decimal

from common.eventlog import NewEvent, emit, emit_many

from ..models import Order

_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value):
    """Dates as ISO strings, decimals as strings: the log's payloads are JSON. (The exact plain types are
    tested first: a sourcing payload holds thousands of values, nearly all of them strings and numbers.)"""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k: v if type(v) in _PLAIN else jsonable(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def order_event(order: Order | int, code: str, *, actor=None, subject: str = "", **payload) -> NewEvent:
    """A new event about an order, to write with ``events_write`` (several in one statement)."""
    order_id = order if isinstance(order, int) else order.pk
    return NewEvent(code, jsonable(payload), order_id=order_id, subject=subject, actor=actor)


def order_event_json(order: Order | int, code: str, *, payload: dict, actor=None) -> NewEvent:
    """``order_event`` for a payload already made of JSON's own types only (strings, numbers, booleans,
    None, lists, dicts): written as it is, without ``jsonable``'s walk (a sourcing record holds hundreds)."""
    order_id = order if isinstance(order, int) else order.pk
    return NewEvent(code, payload, order_id=order_id, subject="", actor=actor)


def events_write(events: list[NewEvent]) -> None:
    """Write the events in one statement (their rows are not needed back: no instance is built)."""
    if events:
        emit_many(events, rows=False)


def event_add(*, order: Order | int, code: str, actor=None, subject: str = "", **payload):
    """Write one event about an order now (in the caller's transaction)."""
    order_id = order if isinstance(order, int) else order.pk
    return emit(code, payload=jsonable(payload), order_id=order_id, subject=subject, actor=actor)
