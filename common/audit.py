"""Recording into the audit log (common.models.AuditEntry).

Services that make a security-relevant change call ``audit_record`` (or ``audit_saved`` / ``audit_deleted``
for a settings object) in the same transaction as the change::

    before = audit_snapshot(rule)          # the stored row, before the change (None for a new object)
    rule.save()
    audit_saved(instance=rule, before=before)   # "settings.changed", with the fields that changed

Who and from where: an explicit ``actor`` (a user) or ``customer``; otherwise the signed-in user of the
request being served (``AuditContextMiddleware`` keeps it for the request's duration), else "system" (a
task, a management command). The address is the request's client address (``RATELIMIT_IP_META_KEY``, the
same header the rate limits trust behind a proxy).

Never pass a secret's value in ``details``: secrets are recorded as "set", "not set" or "replaced", which
``audit_saved`` does by itself for ``EncryptedTextField`` fields.
"""

import datetime as dt
import ipaddress
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from django.conf import settings
from django.db import models

from .fields import EncryptedTextField
from .models import AuditEntry

Action = AuditEntry.Action
ActorKind = AuditEntry.ActorKind

_request: ContextVar = ContextVar("audit_request", default=None)

SET, NOT_SET, REPLACED = "set", "not set", "replaced"


class AuditContextMiddleware:
    """Keeps the request being served, so the services it calls record its user and client address without
    passing them down. Placed after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_request(request):
            return self.get_response(request)


@contextmanager
def audit_request(request):
    """Record what is done inside with ``request``'s user and address (the middleware does it for every
    request; tests and callers outside a request may too)."""
    token = _request.set(request)
    try:
        yield request
    finally:
        _request.reset(token)


def current_request():
    return _request.get()


def client_ip(request) -> str | None:
    if request is None:
        return None
    raw = request.META.get(getattr(settings, "RATELIMIT_IP_META_KEY", "REMOTE_ADDR"), "") or ""
    candidate = str(raw).split(",")[0].strip()  # X-Forwarded-For: the client is the first address
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _label(value, limit: int) -> str:
    return str(value)[:limit]


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    target_label: str | None = None,
    changes: dict | None = None,
    details: dict | None = None,
    actor=None,
    customer=None,
    actor_label: str | None = None,
    actor_kind: str | None = None,
    request=None,
) -> AuditEntry:
    """Write one entry. ``actor`` is a staff user, ``customer`` a customers.Customer; with neither, the
    request's signed-in staff user, else "system". ``actor_kind`` with no actor says who was trying without
    being known (a failed sign-in: "staff" on the staff sign-in, "customer" in the portal, where a staff
    session of the same browser is nobody). ``actor_label`` replaces the label (e.g. the name typed in a
    failed sign-in)."""
    request = request if request is not None else _request.get()
    if customer is not None:
        kind, actor_id, label = ActorKind.CUSTOMER, customer.pk, customer.email
    elif actor is None and actor_kind is not None:
        kind, actor_id, label = actor_kind, None, ""
    else:
        if actor is None and request is not None:
            user = getattr(request, "user", None)
            actor = user if user is not None and user.is_authenticated else None
        if actor is not None:
            kind, actor_id, label = ActorKind.STAFF, actor.pk, actor.get_username()
        else:
            kind, actor_id, label = ActorKind.SYSTEM, None, ""
    if actor_label is not None:
        label = actor_label
    target_type = target_id = ""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = _label(target.pk if target.pk is not None else "", 64)
        if target_label is None:
            target_label = str(target)
    return AuditEntry.objects.create(
        action=action,
        actor_kind=kind,
        actor_id=actor_id,
        actor_label=_label(label or "", 254),
        ip=client_ip(request),
        target_type=target_type,
        target_id=target_id,
        target_label=_label(target_label or "", 255),
        changes=changes or {},
        details=details or {},
    )


# --- Before / after of a model instance ----------------------------------------------------------------


def _audited_fields(model, fields=None) -> list[models.Field]:
    chosen = []
    for field in model._meta.concrete_fields:
        if field.primary_key or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if fields is not None and field.name not in fields:
            continue
        chosen.append(field)
    return chosen


def audit_values(instance, fields=None) -> dict:
    """The audited fields' current values of ``instance`` (in memory only)."""
    return {f.name: getattr(instance, f.attname) for f in _audited_fields(type(instance), fields)}


def audit_snapshot(instance: models.Model, *, fields=None) -> dict | None:
    """The values stored for ``instance`` now (read from the database, so the instance may already hold the
    new values), or None when it is not saved yet. Kept in memory only: secrets are compared, never
    written."""
    if instance.pk is None:
        return None
    stored = type(instance)._base_manager.filter(pk=instance.pk).first()
    return None if stored is None else audit_values(stored, fields)


def _json(field: models.Field, value):
    if isinstance(field, EncryptedTextField):
        return SET if value else NOT_SET
    if value is None:
        return None
    if field.is_relation and field.many_to_one:
        related = field.related_model._base_manager.filter(pk=value).first()
        return str(related) if related is not None else f"#{value}"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def audit_changes(model, before: dict | None, after: dict | None) -> dict:
    """``{field: {"before": …, "after": …}}`` for the fields whose value differs (all of them for a creation
    or a deletion, leaving out empty ones)."""
    changes = {}
    for field in _audited_fields(model):
        name = field.name
        if (before is not None and name not in before) or (after is not None and name not in after):
            continue
        old = before.get(name) if before is not None else None
        new = after.get(name) if after is not None else None
        if before is not None and after is not None and old == new:
            continue
        if (before is None or after is None) and new in (None, "", [], {}) and old in (None, "", [], {}):
            continue
        entry = {"before": _json(field, old) if before is not None else None}
        entry["after"] = _json(field, new) if after is not None else None
        if isinstance(field, EncryptedTextField) and old and new:
            entry["after"] = REPLACED
        changes[name] = entry
    return changes


def audit_saved(
    *,
    instance: models.Model,
    before: dict | None,
    action: str = Action.SETTINGS_CHANGED,
    fields=None,
    details: dict | None = None,
    actor=None,
    target_label: str | None = None,
) -> AuditEntry | None:
    """Record a created or changed object (nothing when no audited field changed)."""
    after = audit_values(instance, fields)
    if before is not None and fields is not None:
        before = {name: value for name, value in before.items() if name in after}
    changes = audit_changes(type(instance), before, after)
    if before is not None and not changes and not details:
        return None
    return audit_record(
        action=action,
        target=instance,
        changes=changes,
        details={"operation": "created" if before is None else "changed", **(details or {})},
        actor=actor,
        target_label=target_label,
    )


def audit_deleted(
    *,
    instance: models.Model,
    action: str = Action.SETTINGS_CHANGED,
    fields=None,
    details: dict | None = None,
    actor=None,
) -> AuditEntry:
    """Record an object about to be deleted (call it before the deletion: it reads the object's label)."""
    return audit_record(
        action=action,
        target=instance,
        changes=audit_changes(type(instance), audit_values(instance, fields), None),
        details={"operation": "deleted", **(details or {})},
        actor=actor,
    )
