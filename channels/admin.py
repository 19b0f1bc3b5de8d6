"""Admin of the connectors: deliveries and imports to look at, connections without their secrets (the
connector page sets those)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ChannelConnection, ImportJob, WebhookDelivery


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = ["received_at", "channel", "topic", "delivery_id", "status", "error_code", "order"]
    list_filter = ["status", "channel", "topic"]
    search_fields = ["delivery_id", "external_id", "order__number"]
    list_select_related = ["channel", "order"]


@admin.register(ImportJob)
class ImportJobAdmin(_ReadOnly):
    list_display = [
        "created_at",
        "channel",
        "filename",
        "dry_run",
        "status",
        "orders_created",
        "orders_skipped",
    ]
    list_filter = ["status", "dry_run", "channel"]


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(_ReadOnly):
    """Read-only; the secrets are never shown (only whether each one is set): the connector page sets
    them."""

    list_display = [
        "channel",
        "base_url",
        "push_stock",
        "poll_orders",
        "last_order_sync_at",
        "last_stock_push_at",
    ]
    exclude = ChannelConnection.SECRET_FIELDS
    readonly_fields = ["credentials"]

    @admin.display(description=_("credentials"))
    def credentials(self, obj):
        states = []
        for name in ChannelConnection.SECRET_FIELDS:
            state = _("set") if obj.secret_is_set(name) else _("not set")
            states.append(f"{ChannelConnection._meta.get_field(name).verbose_name}: {state}")
        return ", ".join(states)
