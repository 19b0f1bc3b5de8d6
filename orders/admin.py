"""Django admin of the orders app, for superusers. Orders change only through the services: their lines
are read-only here (allocations are inventory's, the timeline is the event log's), and API keys are
created by the channel page or the ``create_api_key`` command (only their fingerprint is stored)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.admin import AuditedModelAdmin

from .models import ApiKey, Channel, ChannelLocation, IdempotencyKey, Order, OrderLine
from .services.api_keys import api_key_revoke


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ChannelLocationInline(admin.TabularInline):
    model = ChannelLocation
    extra = 1
    autocomplete_fields = ("location",)
    ordering = ("priority", "location__code")


@admin.register(Channel)
class ChannelAdmin(AuditedModelAdmin):
    list_display = ("code", "name", "kind", "sourcing_strategy", "safety_buffer", "active")
    list_filter = ("kind", "sourcing_strategy", "active")
    search_fields = ("code", "name")
    inlines = [ChannelLocationInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "channel", "name", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("channel", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "channel__code")
    readonly_fields = ("channel", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    fields = ("channel", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are created on the channel page or by `manage.py create_api_key`

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(key=key)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(keys)) % {"count": len(keys)},
            messages.SUCCESS,
        )


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = ("line_no", "sku", "name", "quantity", "unit_price", "vat_rate")
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: an order changes through its services (intake, transitions, cancel), which keep the
    stock and the timeline right."""

    list_display = ("number", "created_at", "channel", "external_id", "customer", "delivery_mode", "status")
    list_filter = ("status", "channel", "delivery_mode")
    list_select_related = ("channel", "customer")
    search_fields = ("number", "external_id", "customer__email")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over every order on each page
    inlines = [OrderLineInline]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "channel", "state", "response_status", "created_at")
    list_filter = ("state", "channel")
    search_fields = ("key",)
    show_full_result_count = False
