from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from common.admin import AuditedModelAdmin

from .models import (
    Allocation,
    IncomingStock,
    KitComponent,
    Location,
    Product,
    StaffProfile,
    StockLevel,
    StockMovement,
)


@admin.register(Location)
class LocationAdmin(AuditedModelAdmin):
    list_display = ("code", "name", "kind", "city", "postcode", "country", "active")
    list_filter = ("kind", "active", "country")
    search_fields = ("code", "name", "city", "postcode")


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "all_locations")
    list_filter = ("all_locations", "locations")
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name")
    filter_horizontal = ("locations",)
    autocomplete_fields = ("user",)


class KitComponentInline(admin.TabularInline):
    """A kit's components, read here; they change on the kit's catalogue page (through the kits service,
    which refuses nested kits and kits with stock of their own, and keeps ``Product.is_kit``)."""

    model = KitComponent
    fk_name = "kit"
    fields = ("component", "quantity")
    readonly_fields = ("component", "quantity")
    extra = 0
    can_delete = False
    verbose_name_plural = _("kit components (change them on the kit's catalogue page)")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "sku",
        "name",
        "ean",
        "price",
        "vat_rate",
        "nature",
        "weight_g",
        "customs_code",
        "origin_country",
        "active",
        "is_kit",
        "stock_link",
    )
    list_filter = ("active", "is_kit", "vat_rate")
    search_fields = ("sku", "name", "ean")
    readonly_fields = ("created_at", "is_kit", "kit_link")
    inlines = [KitComponentInline]
    list_per_page = 50

    @admin.display(description=_("stock"))
    def stock_link(self, obj):
        if obj.is_kit:
            return format_html(
                '<a href="{}">{}</a>', reverse("inventory:product_kit", args=[obj.pk]), _("Kit")
            )
        return format_html(
            '<a href="{}">{}</a>', reverse("inventory:product_stock", args=[obj.sku]), _("Stock")
        )

    @admin.display(description=_("kit"))
    def kit_link(self, obj):
        if obj.pk is None:
            return "—"
        label = _("Change the kit's components") if obj.is_kit else _("Make it a kit")
        return format_html('<a href="{}">{}</a>', reverse("inventory:product_kit", args=[obj.pk]), label)


class _NoDeleteAdmin(admin.ModelAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockLevel)
class StockLevelAdmin(_NoDeleteAdmin):
    """On hand and reserved change only through the stock services (each with its ledger row): here only
    the bin can be edited."""

    list_display = ("product", "location", "on_hand", "reserved", "available", "bin_code", "updated_at")
    list_filter = ("location",)
    search_fields = ("product__sku", "product__name", "product__ean", "bin_code")
    list_select_related = ("product", "location")
    fields = ("product", "location", "on_hand", "reserved", "bin_code", "updated_at")
    readonly_fields = ("product", "location", "on_hand", "reserved", "updated_at")

    @admin.display(description=_("available"))
    def available(self, obj):
        return obj.available

    def has_add_permission(self, request):
        return False


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The append-only ledger: read only, no add, change or delete."""

    list_display = (
        "created_at",
        "product",
        "location",
        "delta",
        "reason",
        "reason_code",
        "reference",
        "on_hand_after",
        "actor",
    )
    list_filter = ("reason", "reason_code", "location")
    search_fields = ("product__sku", "product__name", "reference", "note")
    list_select_related = ("product", "location", "actor")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IncomingStock)
class IncomingStockAdmin(_NoDeleteAdmin):
    """Replenishments are created, received and cancelled through the stock pages (services keep the
    pre-order reservations right); here only the expected date and the reference can be corrected."""

    list_display = (
        "product",
        "kind",
        "from_location",
        "location",
        "quantity",
        "reserved",
        "expected_on",
        "status",
        "reference",
    )
    list_filter = ("status", "kind", "location")
    search_fields = ("product__sku", "product__name", "reference")
    list_select_related = ("product", "location", "from_location")
    date_hierarchy = "expected_on"
    readonly_fields = (
        "product",
        "kind",
        "from_location",
        "location",
        "quantity",
        "reserved",
        "status",
        "created_at",
        "received_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    """Read-only: reservations change only through inventory's services, which keep the counters right."""

    list_display = ("order", "line", "product", "location", "quantity", "kind", "incoming", "consumed_at")
    list_filter = ("kind", "location")
    list_select_related = ("order", "line", "product", "location", "incoming")
    search_fields = ("order__number", "product__sku")
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
