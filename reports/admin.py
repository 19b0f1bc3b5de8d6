"""Django admin of the forecast: lead times per location are edited here; runs and results are read-only
(the forecast task writes them)."""

from django.contrib import admin

from .models import ForecastRun, ReorderPolicy, SalesForecast


@admin.register(ReorderPolicy)
class ReorderPolicyAdmin(admin.ModelAdmin):
    list_display = ("location", "lead_time_days", "review_days")
    autocomplete_fields = ("location",)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ForecastRun)
class ForecastRunAdmin(ReadOnly):
    list_display = ("pk", "status", "trigger", "done", "total", "created_at", "finished_at")
    list_filter = ("status", "trigger")


@admin.register(SalesForecast)
class SalesForecastAdmin(ReadOnly):
    list_display = ("product", "method", "units_sold", "mape", "computed_at")
    list_filter = ("method",)
    search_fields = ("product__sku", "product__name")
