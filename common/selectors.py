"""Reads of the common app: the audit log, newest first, filtered, a page at a time (keyset pages: the same
cost on the first page and far back)."""

import datetime as dt

from django.utils import timezone

from .models import AuditEntry


def audit_entries(
    *,
    action: str = "",
    actor: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    before_id: int | None = None,
    size: int = 50,
) -> tuple[list[AuditEntry], int | None]:
    """One page of entries (newest first) and the id to pass as ``before_id`` for the next, older page (None
    on the last page). ``actor`` matches the user name or email exactly (case-insensitive); dates are days in
    the site's time zone, both included. One query."""
    entries = AuditEntry.objects.all()
    if action:
        entries = entries.filter(action=action)
    if actor:
        entries = entries.filter(actor_label__iexact=actor.strip())
    zone = timezone.get_current_timezone()
    if date_from:
        entries = entries.filter(at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=zone))
    if date_to:
        entries = entries.filter(
            at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        )
    if before_id is not None:
        entries = entries.filter(id__lt=before_id)
    page = list(entries.order_by("-id")[: size + 1])
    if len(page) > size:
        return page[:size], page[size - 1].id
    return page, None
