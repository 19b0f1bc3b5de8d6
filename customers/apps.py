from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import jobs  # noqa: F401 - registers the sign-in link emails with the sweep (common/jobs.py)
