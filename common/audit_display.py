"""How an audit entry reads on the audit log page, in the reader's language: entries store codes and field
names; labels are found at read time (the object's model gives its fields' names)."""

from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry

Action = AuditEntry.Action

# Badge colours (UI.md families): failures are problems, access granted is done, changes need a look.
ACTION_FAMILIES = {
    Action.STAFF_SIGN_IN: "done",
    Action.CUSTOMER_SIGN_IN: "done",
    Action.STAFF_SIGN_IN_FAILED: "problem",
    Action.CUSTOMER_SIGN_IN_FAILED: "problem",
    Action.STAFF_SIGN_OUT: "waiting",
    Action.CUSTOMER_SIGN_OUT: "waiting",
    Action.API_KEY_CREATED: "action",
    Action.API_KEY_REVOKED: "action",
    Action.SECRET_CHANGED: "action",
    Action.ROLE_CHANGED: "action",
    Action.ROLE_PERMISSIONS_CHANGED: "action",
    Action.SCOPE_CHANGED: "action",
    Action.STAFF_ACCOUNT_CHANGED: "action",
    Action.SETTINGS_CHANGED: "progress",
}

DETAIL_LABELS = {
    "operation": _("Operation"),
    "method": _("Method"),
    "reason": _("Reason"),
    "channel": _("Channel"),
    "name": _("Name"),
    "prefix": _("Key prefix"),
    "scopes": _("Scopes"),
    "added": _("Added"),
    "removed": _("Removed"),
    "locations": _("Locations"),
    "grid": _("Grid"),
    "grid_change": _("Grid change"),
    "via": _("Via"),
    "known_user": _("Known user"),
    "inlines": _("Rows"),
    "rotated": _("Re-encrypted"),
    "current": _("Already under the current key"),
    "distances_km": _("Distance bands (km)"),
    "weights_g": _("Weight bands (g)"),
    "cells": _("Prices"),
    "max_weight_g": _("Weight band (g)"),
    "max_distance_km": _("Distance band (km)"),
    "days": _("Transit days"),
    "prices": _("Prices by distance (km)"),
    "model": _("Object type"),
    "password": _("Password"),
    "order": _("Order"),
    "all_locations": _("All locations"),
    "groups": _("Roles"),
    "user_permissions": _("Permissions"),
    "permissions": _("Permissions"),
    "is_active": _("Active"),
    "is_staff": _("Staff status"),
    "is_superuser": _("Superuser status"),
}

VALUE_LABELS = {
    "created": _("created"),
    "changed": _("changed"),
    "deleted": _("deleted"),
    "rotated": _("key rotated"),
    "password": _("password"),
    "link": _("sign-in link"),
    "wrong_credentials": _("wrong email or password"),
    "rate_limited": _("too many attempts"),
    "expired": _("link expired"),
    "used": _("link already used"),
    "invalid": _("link not valid"),
    "admin": _("Django admin"),
    "price": _("price grid"),
    "transit": _("transit grid"),
    "replaced": _("replaced"),
    "band_added": _("band added"),
    "band_changed": _("band changed"),
    "band_deleted": _("band deleted"),
    "set": _("set"),
    "not set": _("not set"),
}


@dataclass
class AuditRow:
    entry: AuditEntry
    family: str
    object_type: str
    # (label, before, after); before is None for a created object, after None for a deleted one.
    changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)


def _model(label: str):
    if not label:
        return None
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        # A model moved to another app kept its table (common/app_moves.py); older rows name the old app.
        table = label.replace(".", "_")
        return next((model for model in apps.get_models() if model._meta.db_table == table), None)


def _field_label(model, name: str) -> str:
    if model is not None:
        try:
            return capfirst(str(model._meta.get_field(name).verbose_name))
        except FieldDoesNotExist:
            pass
    return capfirst(str(DETAIL_LABELS.get(name, name)))


def show(value) -> str:
    """A stored value as text: lists joined, yes/no, dashes for nothing, known codes translated."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return ", ".join(show(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{_field_label(None, str(k))}: {show(v)}" for k, v in value.items())
    if isinstance(value, str) and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    return str(value)


def _inline(value) -> str:
    parts = []
    for block in value:
        pieces = []
        if block.get("added"):
            pieces.append(f"+ {', '.join(block['added'])}")
        if block.get("changed"):
            pieces.append(
                "~ "
                + ", ".join(f"{item['object']} ({', '.join(item['fields'])})" for item in block["changed"])
            )
        if block.get("deleted"):
            pieces.append(f"− {', '.join(block['deleted'])}")
        parts.append(f"{block.get('model', '')}: {' '.join(pieces)}")
    return " · ".join(parts)


def _in_field_order(model, changes: dict) -> list[tuple[str, object]]:
    """The changed fields in the model's order (the database keeps JSON keys in its own order)."""
    order = {f.name: index for index, f in enumerate(model._meta.get_fields())} if model is not None else {}
    return sorted(changes.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


def audit_rows(entries) -> list[AuditRow]:
    rows = []
    for entry in entries:
        model = _model(entry.target_type or (entry.details or {}).get("model", ""))
        row = AuditRow(
            entry=entry,
            family=ACTION_FAMILIES.get(entry.action, "waiting"),
            object_type=str(model._meta.verbose_name) if model is not None else "",
        )
        operation = (entry.details or {}).get("operation")
        for name, change in _in_field_order(model, entry.changes or {}):
            label = _field_label(model, name)
            if not isinstance(change, dict):
                continue
            if "added" in change or "removed" in change:
                row.changes.append(
                    (label, f"− {show(change.get('removed'))}", f"+ {show(change.get('added'))}")
                )
            elif operation == "created":
                row.changes.append((label, None, show(change.get("after"))))
            elif operation == "deleted":
                row.changes.append((label, show(change.get("before")), None))
            else:
                row.changes.append((label, show(change.get("before")), show(change.get("after"))))
        for name, value in (entry.details or {}).items():
            if name == "model" or (name in ("added", "removed") and entry.changes):
                continue  # the changes above say it already
            if name == "operation" and value == "changed":
                continue  # the changes say it
            if name == "inlines":
                row.details.append((str(DETAIL_LABELS["inlines"]), _inline(value)))
            else:
                row.details.append((_field_label(None, name), show(value)))
        rows.append(row)
    return rows
