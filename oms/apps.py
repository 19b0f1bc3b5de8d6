from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender, **kwargs):
    from .roles import sync_roles

    sync_roles()


def _ensure_return_reasons(sender, **kwargs):
    from returns.defaults import return_reasons_ensure

    return_reasons_ensure()


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = _("Back office")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The data migration creates the roles; this keeps them after a test flush or a new permission.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="oms.sync_roles")
        post_migrate.connect(_ensure_return_reasons, sender=self, dispatch_uid="oms.return_reasons")
        # `make run` without Redis: the beat schedule runs in a thread of the web process (oms/scheduler.py).
        import sys

        from .scheduler import start_if_wanted

        start_if_wanted(sys.argv)
