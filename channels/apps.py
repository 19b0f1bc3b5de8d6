from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channel connectors")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The connectors' consumers of the event log and their queued jobs (common/jobs.py); selectors: the
        # signals that empty the webhook signer cache when a channel or its connection is saved.
        from orders.reasons import register_marketplace_reasons

        from . import events, jobs, outbound, selectors  # noqa: F401

        register_marketplace_reasons(outbound.reasons_for_forms)
