"""The audit log and the domain event log in Django admin (read-only), and ``AuditedModelAdmin``: settings
edited in the admin are recorded like those edited on the settings pages. Managers replay parked events from
the back office's "Event consumers" page."""

from django.contrib import admin
from django.db import transaction

from .audit import Action, audit_changes, audit_deleted, audit_record, audit_snapshot, audit_values
from .models import AuditEntry, ConsumerFailure, ConsumerProgress, DomainEvent


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: nothing can be added, changed or deleted here."""

    list_display = ("at", "action", "actor_kind", "actor_label", "ip", "target_type", "target_label")
    list_filter = ("action", "actor_kind")
    search_fields = ("actor_label", "target_label", "target_id", "ip")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _inline_changes(formsets) -> list[dict]:
    """What the inlines of an admin form changed (rows added, changed with the names of their fields, or
    deleted), for the audit entry of the object."""
    summary = []
    for formset in formsets:
        added = [str(obj) for obj in getattr(formset, "new_objects", [])]
        changed = [
            {"object": str(obj), "fields": sorted(fields)}
            for obj, fields in getattr(formset, "changed_objects", [])
        ]
        deleted = [str(obj) for obj in getattr(formset, "deleted_objects", [])]
        if added or changed or deleted:
            summary.append(
                {
                    "model": str(formset.model._meta.verbose_name_plural),
                    "added": added,
                    "changed": changed,
                    "deleted": deleted,
                }
            )
    return summary


class AuditedModelAdmin(admin.ModelAdmin):
    """Records the objects created, changed (with before and after) and deleted in the admin, with what
    their inlines changed, as "settings changed". ``audit_saves = False`` when ``save_model`` already calls a
    service that records the change."""

    audit_saves = True

    def save_model(self, request, obj, form, change):
        obj._audit_admin_before = audit_snapshot(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        if not self.audit_saves:
            return
        before = getattr(obj, "_audit_admin_before", None)
        changes = audit_changes(type(obj), before, audit_values(obj))
        inlines = _inline_changes(formsets)
        if change and not changes and not inlines:
            return
        details = {"operation": "changed" if change else "created", "via": "admin"}
        if inlines:
            details["inlines"] = inlines
        audit_record(action=Action.SETTINGS_CHANGED, target=obj, changes=changes, details=details)

    def delete_model(self, request, obj):
        audit_deleted(instance=obj, details={"via": "admin"})
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_deleted(instance=obj, details={"via": "admin"})
        super().delete_queryset(request, queryset)


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
