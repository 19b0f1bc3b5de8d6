from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The orders' consumers of the event log, and the kinds of queued jobs (common/jobs.py).
        from . import api_auth, events, jobs  # noqa: F401 - api_auth: the key cache's invalidation
        from .payments import events as payment_events  # noqa: F401
