"""Django admin of returns: the channels' return rules and the reasons are settings (edited here); returns
change only through the services, so they are read-only."""

from django.contrib import admin

from .models import Return, ReturnLine, ReturnReason, ReturnRule


@admin.register(ReturnReason)
class ReturnReasonAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "our_fault", "position", "active")
    list_editable = ("position", "active")


@admin.register(ReturnRule)
class ReturnRuleAdmin(admin.ModelAdmin):
    list_display = ("channel", "window_days", "fee")
    filter_horizontal = ("photo_reasons",)


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in ReturnLine._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Return)
class ReturnAdmin(admin.ModelAdmin):
    list_display = ("number", "order", "status", "method", "location", "refund_amount", "created_at")
    list_filter = ("status", "method")
    search_fields = ("number", "order__number")
    inlines = [ReturnLineInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Return._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
