from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _consumers_progress(sender, using="default", **kwargs):
    """Every registered consumer has its progress row, starting at the present (also after a test
    database flush)."""
    from .eventlog import progress_ensure

    progress_ensure()


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_consumers_progress, sender=self, dispatch_uid="common.consumers_progress")
        from . import audit_receivers

        audit_receivers.connect()  # sign-ins, roles, permissions and staff accounts into the audit log
