from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("Inventory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit, jobs  # noqa: F401 - jobs: the kinds of queued jobs (common/jobs.py)

        audit.connect()  # staff location scopes into the audit log
