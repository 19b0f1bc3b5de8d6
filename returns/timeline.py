"""The returns' entries on the order's timeline (``return.*`` events), told in the reader's language at read
time; registered with the order timeline's renderers (orders/timeline.py) on import (returns/apps.py)."""

from django.utils.translation import gettext as _

from common.templatetags.oms_tags import money
from orders import timeline

from .models import Return


def _return_method(value: str) -> str:
    try:
        return str(Return.Method(value).label)
    except ValueError:
        return value


def _return_accepted(p: dict, lines) -> str:
    if p.get("in_parcel"):
        return (
            _("Return %(number)s accepted: the customer uses the return label %(tracking)s from the parcel.")
            % p
        )
    if p.get("store"):
        return _("Return %(number)s accepted: the customer drops the items at %(store)s.") % p
    return _("Return %(number)s accepted: the return label is being made.") % p


RENDERERS = {
    "return.requested": lambda p, lines: (
        _(
            "Return %(number)s opened: the carrier scanned the return label %(tracking)s "
            "from parcel %(parcel)s (%(units)s item(s))."
        )
        % p
        if p.get("in_parcel")
        else _("Return %(number)s requested: %(units)s item(s), %(method)s.")
        % {**p, "method": _return_method(p.get("method", ""))}
    ),
    "return.accepted": _return_accepted,
    "return.scanned": lambda p, lines: (
        _("Return %(number)s: the carrier took the parcel back (%(tracking)s).") % p
    ),
    "return.label_used_in_vain": lambda p, lines: (
        _(
            "The return label %(tracking)s from parcel %(parcel)s was used, "
            "but every item is already coming back."
        )
        % p
    ),
    "return.rejected": lambda p, lines: _("Return %(number)s rejected: %(reason)s") % p,
    "return.label_failed": lambda p, lines: (
        _("Return %(number)s: the carrier refused the return label: %(error)s") % p
    ),
    "return.label_sent": lambda p, lines: (
        _("Return %(number)s: return label %(tracking)s sent to the customer.") % p
    ),
    "return.received": lambda p, lines: (
        _(
            "Return %(number)s received at %(location)s: %(restocked)s item(s) restocked, "
            "%(written_off)s written off."
        )
        % p
    ),
    "return.refunded": lambda p, lines: (
        _("Return %(number)s refunded: %(amount)s (payment reference %(reference)s).")
        % {**p, "amount": money(p.get("amount"))}
    ),
    "return.credited": lambda p, lines: (
        _("Return %(number)s: credit note %(notes)s issued.")
        % {"number": p.get("number"), "notes": ", ".join(p.get("credit_notes", []))}
    ),
}


for _code, _render in RENDERERS.items():
    timeline.register(_code, _render)
