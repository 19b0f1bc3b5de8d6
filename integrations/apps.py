from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """Other software hears about what happens: outbound webhooks and the HubSpot connector, both consumers
    of the domain event log (common/eventlog.py), in the layer above every domain app."""

    name = "integrations"
    verbose_name = _("Integrations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import configured, events, jobs  # noqa: F401 - registers the consumers, job kinds, signals
