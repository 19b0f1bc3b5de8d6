"""Reading the domain event log in tests: the events of an order (its timeline), by code and payload."""

import contextlib

from common.models import DomainEvent


def events_of(order, code: str | None = None, **payload):
    """The order's events, oldest first; ``code`` and ``payload__<key>=value`` filters."""
    queryset = DomainEvent.objects.filter(order_id=getattr(order, "pk", order))
    if code is not None:
        queryset = queryset.filter(code=code)
    if payload:
        queryset = queryset.filter(**{f"payload__{key}": value for key, value in payload.items()})
    return queryset.order_by("created_at", "pk")


def log_event(order, code: str, when, payload: dict) -> DomainEvent:
    """An event written straight into the log at a given time (report fixtures: no consumer runs)."""
    return DomainEvent.objects.create(
        order_id=getattr(order, "pk", order), code=code, payload=payload, created_at=when, xid=None
    )


@contextlib.contextmanager
def consumer_statements():
    """The statements each consumer's handler sends while the block runs, counted by ``"<consumer> <event
    code>"`` (the integrations' consumers left out: they read nothing while nothing is configured)."""
    import collections
    import dataclasses

    from django.db import connection

    from common import eventlog

    counts: collections.Counter = collections.Counter()
    current: list[str | None] = [None]

    def count(execute, sql, params, many, context):
        if current[0] is not None:
            counts[current[0]] += 1
        return execute(sql, params, many, context)

    def wrap(c):
        def handler(event):
            current[0] = f"{c.name} {event.code}"
            try:
                return c.handler(event)
            finally:
                current[0] = None

        return dataclasses.replace(c, handler=handler)

    registry = eventlog.consumers()
    ours: dict = {}
    try:
        for name, c in registry.items():
            eventlog._registry[name] = wrap(c)
        with connection.execute_wrapper(count):
            yield ours
    finally:
        eventlog._registry.update(registry)
        ours.update({k: v for k, v in counts.items() if not k.startswith(("webhooks.", "crm."))})
