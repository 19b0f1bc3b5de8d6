"""Reading the domain event log in tests: the events of an order (its timeline), by code and payload."""

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
