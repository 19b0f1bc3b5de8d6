from decimal import Decimal

from django import forms
from django.contrib import admin

from common.admin import AuditedModelAdmin

from .forms import CarrierServiceForm
from .models import (
    Carrier,
    CarrierAccount,
    CarrierService,
    ChannelShippingSettings,
    DocumentBranding,
    ParcelReturnLabel,
    ServiceRate,
    ServiceTransit,
    Shipment,
    ShipmentLine,
    TrackingEvent,
)


class ServiceRateForm(forms.ModelForm):
    price_excl_vat = forms.DecimalField(min_value=Decimal("0"), max_digits=8, decimal_places=2)

    class Meta:
        model = ServiceRate
        fields = ["service", "max_weight_g", "max_distance_km", "price_excl_vat"]


class CarrierServiceInline(admin.TabularInline):
    model = CarrierService
    form = CarrierServiceForm
    fields = (
        "code",
        "name",
        "delivery_mode",
        "max_weight_g",
        "cutoff_time",
        "delivery_weekdays",
        "is_express",
        "active",
    )
    extra = 0
    show_change_link = True


@admin.register(Carrier)
class CarrierAdmin(AuditedModelAdmin):
    list_display = ("name", "code", "adapter", "active")
    list_filter = ("adapter", "active")
    search_fields = ("code", "name")
    inlines = [CarrierServiceInline]


class ServiceRateInline(admin.TabularInline):
    model = ServiceRate
    form = ServiceRateForm
    fields = ("max_weight_g", "max_distance_km", "price_excl_vat")
    extra = 0


class ServiceTransitInline(admin.TabularInline):
    model = ServiceTransit
    fields = ("max_distance_km", "transit_days")
    extra = 0


@admin.register(CarrierService)
class CarrierServiceAdmin(AuditedModelAdmin):
    form = CarrierServiceForm
    list_display = (
        "name",
        "carrier",
        "code",
        "delivery_mode",
        "max_weight_g",
        "cutoff_time",
        "delivery_weekdays",
        "is_express",
        "active",
    )
    list_filter = ("carrier", "delivery_mode", "active", "is_express")
    list_select_related = ("carrier",)
    search_fields = ("code", "name", "carrier__name", "carrier__code")
    inlines = [ServiceRateInline, ServiceTransitInline]


@admin.register(ServiceRate)
class ServiceRateAdmin(AuditedModelAdmin):
    form = ServiceRateForm
    list_display = ("service", "max_weight_g", "max_distance_km", "price_excl_vat")
    list_filter = ("service__carrier", "service")
    list_select_related = ("service__carrier",)
    ordering = ("service__carrier__name", "service__name", "max_weight_g", "max_distance_km")


@admin.register(ServiceTransit)
class ServiceTransitAdmin(AuditedModelAdmin):
    list_display = ("service", "max_distance_km", "transit_days")
    list_filter = ("service__carrier", "service")
    list_select_related = ("service__carrier",)
    ordering = ("service__carrier__name", "service__name", "max_distance_km")


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    raw_id_fields = ("order_line", "product")


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("number", "order", "location", "service", "status", "tracking_number", "created_at")
    list_filter = ("status", "location", "service__carrier")
    search_fields = ("number", "tracking_number", "order__number")
    raw_id_fields = ("order", "created_by", "channel", "service_rule", "service_chosen_by")
    inlines = [ShipmentLineInline, TrackingEventInline]


@admin.register(CarrierAccount)
class CarrierAccountAdmin(admin.ModelAdmin):
    """The values only: secrets are entered in Settings → Carriers → Accounts and never shown."""

    list_display = ("adapter", "test_mode", "updated_at", "updated_by")
    fields = ("adapter", "values", "test_mode", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")


@admin.register(ChannelShippingSettings)
class ChannelShippingSettingsAdmin(admin.ModelAdmin):
    list_display = ("channel", "return_label_in_parcel", "return_carrier")


@admin.register(DocumentBranding)
class DocumentBrandingAdmin(admin.ModelAdmin):
    list_display = ("__str__", "primary_color", "accent_color", "updated_at")


@admin.register(ParcelReturnLabel)
class ParcelReturnLabelAdmin(admin.ModelAdmin):
    list_display = (
        "tracking_number",
        "shipment",
        "carrier",
        "status",
        "return_number",
        "scanned_at",
        "created_at",
    )
    list_filter = ("status", "carrier")
    search_fields = ("tracking_number", "shipment__number", "return_number")
    raw_id_fields = ("shipment",)
