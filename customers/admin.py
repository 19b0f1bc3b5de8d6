from django.contrib import admin

from .models import Address, Customer


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "company", "language", "created_at")
    list_filter = ("language", "created_at")
    search_fields = ("email", "first_name", "last_name", "company", "siren", "vat_number", "phone")
    inlines = [AddressInline]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("customer", "kind", "line1", "postcode", "city", "country", "is_default")
    list_filter = ("kind", "country")
    search_fields = ("customer__email", "line1", "postcode", "city")
    raw_id_fields = ("customer",)
