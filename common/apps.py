from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _consumers_progress(sender, using="default", **kwargs):
    """Every registered consumer has its progress row, starting at the present (also after a test
    database flush)."""
    from .eventlog import progress_ensure

    progress_ensure()


def _prepared_statements(sender, connection, **kwargs):
    """With server-side binding (settings ``DB_SERVER_SIDE_BINDING``), each PostgreSQL connection keeps its
    ``DB_PREPARED_MAX`` most recently used prepared statements (psycopg's LRU, 100 by default)."""
    from django.conf import settings

    if connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("server_side_binding"):
        connection.connection.prepared_max = settings.DB_PREPARED_MAX


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = _("Common")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(_prepared_statements, dispatch_uid="common.prepared_statements")
        post_migrate.connect(_consumers_progress, sender=self, dispatch_uid="common.consumers_progress")
        from . import audit_receivers, authz

        audit_receivers.connect()  # sign-ins, roles, permissions and staff accounts into the audit log
        authz.connect()  # a user's permissions and roles kept per process: dropped by every write of them
