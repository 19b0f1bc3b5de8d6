from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.admin import AuditedModelAdmin

from .forms import ShiftCheckMixin
from .models import CapacityBooking, PickerShift, WarehousePartner
from .services import shift_save


class PickerShiftAdminForm(ShiftCheckMixin, forms.ModelForm):
    class Meta:
        model = PickerShift
        fields = ["location", "date", "start", "end", "pickers", "lines_per_picker_hour"]


class CapacityBookingInline(admin.TabularInline):
    model = CapacityBooking
    fields = ("order", "lines", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PickerShift)
class PickerShiftAdmin(AuditedModelAdmin):
    """Shifts are saved through ``shift_save``, which computes the capacity and refuses a capacity below
    the booked lines (and records the change in the audit log); booked lines come from orders, never from
    this form. Deletions are recorded by AuditedModelAdmin."""

    audit_saves = False

    form = PickerShiftAdminForm
    list_display = (
        "location",
        "date",
        "start",
        "end",
        "pickers",
        "lines_per_picker_hour",
        "capacity_lines",
        "lines_booked",
    )
    list_display_links = ("location", "date")
    list_filter = ("location", "date")
    list_select_related = ("location",)
    date_hierarchy = "date"
    ordering = ("location__code", "date", "start")
    readonly_fields = ("capacity_lines", "lines_booked")
    search_fields = ("location__code", "location__name")
    inlines = [CapacityBookingInline]

    def save_model(self, request, obj, form, change):
        shift_save(shift=obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.lines_booked:
            return False  # orders are booked in it
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        booked = [str(shift) for shift in objs if shift.lines_booked]
        if booked:
            protected = [*protected, *[_("%(shift)s has booked lines") % {"shift": s} for s in booked]]
        return deleted, model_count, perms_needed, protected


@admin.register(CapacityBooking)
class CapacityBookingAdmin(admin.ModelAdmin):
    """Read-only: bookings are written by sourcing and released by cancellations."""

    list_display = ("order", "shift", "lines", "created_at")
    list_select_related = ("shift__location", "order")
    list_filter = ("shift__location",)
    date_hierarchy = "created_at"
    raw_id_fields = ("shift", "order")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WarehousePartner)
class WarehousePartnerAdmin(AuditedModelAdmin):
    """A 3PL partner: its location (of kind "outsourced"), how we exchange with its WMS, its API key
    (write-only, stored encrypted)."""

    list_display = ("name", "location", "adapter", "sandbox", "active", "last_sync_at")
    list_filter = ("adapter", "active")
    fields = (
        "name",
        "location",
        "adapter",
        "base_url",
        "api_key",
        "drop_dir",
        "sandbox",
        "active",
        "sync_late_after_minutes",
        "last_sync_at",
        "last_error",
    )
    readonly_fields = ("last_sync_at", "last_error")
