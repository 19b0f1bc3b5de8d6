from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit_receivers

        audit_receivers.connect()  # sign-ins, roles, permissions and staff accounts into the audit log
