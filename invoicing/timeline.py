"""The order timeline entries of e-invoicing: domain events ``einvoice.<code>`` whose payload holds the
``params`` of their sentence; ``MESSAGES`` tells them in the reader's language (registered with the
order timeline's renderers). The one call into ``orders.services.events.event_add`` is here."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orders import timeline
from orders.services.events import event_add

MESSAGES = {
    "einvoice_siren_missing": _(
        "No invoice issued: %(company)s is a business customer without a SIREN (VAT number %(vat_number)s). "
        "Fill in the SIREN on this order's invoicing panel, then issue the invoice."
    ),
    "einvoice_queued": _("E-invoice %(number)s queued for %(platform)s."),
    "einvoice_sent": _("E-invoice %(number)s sent to %(platform)s (reference %(reference)s)."),
    "einvoice_send_failed": _("%(platform)s refused e-invoice %(number)s: %(error)s"),
    "einvoice_status": _("E-invoice %(number)s: %(status)s (%(code)s) on %(date)s."),
    "einvoice_problem": _(
        "E-invoice %(number)s %(status)s on %(date)s: %(reason)s. Issue a corrective credit note."
    ),
    "payment_recorded": _("Payment of %(amount)s EUR recorded on invoice %(number)s (%(method)s, %(date)s)."),
    "einvoice_collected_sent": _("“Collected” status of invoice %(number)s sent to %(platform)s."),
}


def event_code(code: str) -> str:
    return "einvoice." + code.removeprefix("einvoice_")


def timeline_add(*, order, code: str, params: dict, actor=None):
    """Write one e-invoicing entry on the order's timeline."""
    params = {key: str(value) for key, value in params.items()}
    return event_add(order=order, code=event_code(code), actor=actor, params=params)


def _renderer(code: str):
    return lambda payload, lines: gettext(str(MESSAGES[code])) % payload.get("params", {})


for _code in MESSAGES:
    timeline.register(event_code(_code), _renderer(_code))
