from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = _("Fulfilment")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import jobs  # noqa: F401 - registers the print jobs with the sweep (common/jobs.py)
