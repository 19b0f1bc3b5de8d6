"""The event log in Django admin (superusers): read-only. Managers replay parked events from the back
office's "Event consumers" page."""

from django.contrib import admin

from .models import ConsumerFailure, ConsumerProgress, DomainEvent


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DomainEvent)
class DomainEventAdmin(_ReadOnly):
    list_display = ("id", "created_at", "code", "order_id", "subject", "actor")
    list_filter = ("code",)
    search_fields = ("code", "subject", "=order_id")
    list_select_related = ("actor",)
    show_full_result_count = False


@admin.register(ConsumerProgress)
class ConsumerProgressAdmin(_ReadOnly):
    list_display = ("name", "processed", "last_event_at", "attempts", "retry_at", "updated_at")


@admin.register(ConsumerFailure)
class ConsumerFailureAdmin(_ReadOnly):
    list_display = ("consumer", "event", "order_id", "status", "attempts", "created_at", "resolved_at")
    list_filter = ("consumer", "status")
    show_full_result_count = False
