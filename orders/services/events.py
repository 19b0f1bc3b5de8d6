from django.conf import settings
from django.utils import translation

from ..models import Order, OrderEvent


def event_add(
    *, order: Order, type: str, message, params: dict | None = None, actor=None, data: dict | None = None
) -> OrderEvent:
    """Write a timeline event. ``message`` is a (lazy) translatable text with ``%(name)s`` placeholders
    filled from ``params``; it is stored in the site's language, whatever the language of the request."""
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message)
        if params:
            text = text % {k: str(v) for k, v in params.items()}
    return OrderEvent.objects.create(
        order=order,
        type=type,
        message=text,
        data=data or {},
        actor=actor if getattr(actor, "pk", None) else None,
    )
