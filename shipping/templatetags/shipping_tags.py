"""Template helpers of the carrier settings pages."""

from django import template
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.formats import number_format

from common.templatetags.oms_tags import money

register = template.Library()


@register.filter
def weekdays(value: str) -> list[dict]:
    """``"123456"`` → the seven days Monday…Sunday, each ``{"abbr", "name", "on"}`` (localised names)."""
    days = set(value or "")
    return [{"abbr": WEEKDAYS_ABBR[i], "name": WEEKDAYS[i], "on": str(i + 1) in days} for i in range(7)]


@register.filter
def weight(grams) -> str:
    """``500`` → ``500 g``; ``2500`` → ``2.5 kg`` (``2,5 kg`` in French); ``1250`` → ``1250 g``."""
    if grams is None or grams == "":
        return ""
    grams = int(grams)
    if grams < 1000 or grams % 100:
        return f"{grams}\u00a0g"
    kg = grams / 1000
    return f"{number_format(kg, decimal_pos=0 if grams % 1000 == 0 else 1, use_l10n=True)}\u00a0kg"


@register.filter
def opening_hours(value) -> list[dict]:
    """``{"1": [["09:00", "12:30"]], ...}`` → seven rows Monday…Sunday, each ``{"name", "abbr", "hours"}``
    with ``hours`` like ``09:00–12:30, 14:00–19:00`` ("" when closed)."""
    value = value or {}
    rows = []
    for i in range(7):
        spans = value.get(str(i + 1)) or []
        hours = ", ".join(f"{start}\u2013{end}" for start, end in spans)
        rows.append({"name": WEEKDAYS[i], "abbr": WEEKDAYS_ABBR[i], "hours": hours})
    return rows


@register.filter
def rule_conditions(rule) -> list[str]:
    """A shipping rule's conditions as short phrases (empty list: the rule matches every parcel)."""
    from django.utils.translation import gettext as _

    from ..models import CarrierService

    out = []
    if rule.channel_id:
        out.append(_("channel %(name)s") % {"name": rule.channel.name})
    if rule.delivery_mode:
        out.append(str(CarrierService.Mode(rule.delivery_mode).label))
    if rule.country:
        out.append(_("to %(country)s") % {"country": rule.country})
    low, high = rule.min_weight_g, rule.max_weight_g
    if low is not None and high is not None:
        out.append(_("%(low)s to %(high)s") % {"low": weight(low), "high": weight(high)})
    elif low is not None:
        out.append(_("from %(low)s") % {"low": weight(low)})
    elif high is not None:
        out.append(_("up to %(high)s") % {"high": weight(high)})
    low, high = rule.min_order_value, rule.max_order_value
    if low is not None and high is not None:
        out.append(_("order of %(low)s to %(high)s") % {"low": money(low), "high": money(high)})
    elif low is not None:
        out.append(_("order from %(low)s") % {"low": money(low)})
    elif high is not None:
        out.append(_("order up to %(high)s") % {"high": money(high)})
    return out
