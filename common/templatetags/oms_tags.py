"""Template helpers shared by every app: status badges, money."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import get_language

register = template.Library()

# One colour per status family, the same everywhere (UI.md): the word is always printed too.
STATUS_FAMILIES = {
    "waiting": {"received", "awaiting_stock", "requested", "pending", "draft", "inactive", "to_pick"},
    "action": {
        "allocated",
        "ready_for_pickup",
        "label_sent",
        "on_hold",
        "to_check",
        "waved",
        "released",
        "to_pack",
        "ready",
        "available_for_pickup",
    },
    "progress": {
        "in_preparation",
        "partially_shipped",
        "shipped",
        "out_for_delivery",
        "in_transit",
        "received_return",
        "picking",
        "running",
        "created",
        "labelled",
        "handed_over",
        "sending",
    },
    "done": {
        "delivered",
        "refunded",
        "issued",
        "sent",
        "active",
        "ok",
        "returned",
        "packed",
        "collected",
        "done",
    },
    "problem": {"cancelled", "rejected", "failed", "exception", "down", "late", "label_failed"},
}


def status_family(value: str) -> str:
    for family, values in STATUS_FAMILIES.items():
        if value in values:
            return family
    return "waiting"


@register.simple_tag
def badge(value: str, label: str = "") -> str:
    """``{% badge order.status order.get_status_display %}``: a coloured badge that carries its word."""
    return format_html(
        '<span class="badge badge--{}" data-status="{}">{}</span>',
        status_family(value),
        value,
        label or value,
    )


@register.filter
def money(value) -> str:
    """``24,90 €`` in French, ``€24.90`` in English."""
    if value is None or value == "":
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    text = number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    if (get_language() or "fr").startswith("en"):
        return f"€{text}"
    return f"{text}\u00a0€"


@register.filter
def get_item(mapping, key):
    """``{{ labels|get_item:option.mode }}``: a dictionary's value by a variable key ("" when absent)."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
