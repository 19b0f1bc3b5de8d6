from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = _("Invoicing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The invoicing consumer of the event log, and the kinds of queued jobs (common/jobs.py).
        from . import events, jobs  # noqa: F401
