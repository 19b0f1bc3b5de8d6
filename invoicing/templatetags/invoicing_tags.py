"""Template helpers of the invoicing documents."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def css_string(value) -> str:
    """Text for a CSS string ("..."), e.g. in ``content:`` of an @page margin box."""
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ").replace("<", "\\3C ")


@register.filter
def percent(value) -> str:
    """A VAT rate as printed: ``20 %``, ``5,5 %`` (French) or ``5.5%`` (English), by the active language."""
    rate = Decimal(str(value)).normalize()
    if rate == rate.to_integral():
        rate = rate.quantize(Decimal(1))
    from django.utils.translation import get_language

    text = number_format(rate, use_l10n=True)
    return f"{text}%" if (get_language() or "fr").startswith("en") else f"{text}\u00a0%"


@register.filter
def dec(value):
    """A snapshot's decimal string as a Decimal (for the ``money`` filter)."""
    return Decimal(str(value))


LIFECYCLE_FAMILIES = {
    "210": "problem",
    "213": "problem",
    "207": "action",
    "208": "action",
    "205": "done",
    "209": "done",
    "212": "done",
    "211": "done",
}


@register.filter
def lifecycle_family(code) -> str:
    """Badge family of a lifecycle status code: problem (refused, rejected), action, done or progress."""
    return LIFECYCLE_FAMILIES.get(str(code), "progress")
