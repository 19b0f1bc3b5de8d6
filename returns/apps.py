from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = _("Returns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The returns' consumer of the event log, its queued job (common/jobs.py) and its timeline entries.
        from . import events, jobs, timeline  # noqa: F401
