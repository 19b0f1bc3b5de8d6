"""Template helpers of the carrier settings pages."""

from django import template
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.formats import number_format

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
