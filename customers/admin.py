from django.contrib import admin

from .models import Address, Customer, CustomerAccount, Notification


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "company", "language", "sms_opt_in", "created_at")
    list_filter = ("language", "sms_opt_in", "created_at")
    search_fields = ("email", "first_name", "last_name", "company", "siren", "vat_number", "phone")
    inlines = [AddressInline]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("customer", "kind", "line1", "postcode", "city", "country", "is_default")
    list_filter = ("kind", "country")
    search_fields = ("customer__email", "line1", "postcode", "city")
    raw_id_fields = ("customer",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox, read-only: messages are written by the services and resent from the order page."""

    list_display = ("created_at", "kind", "channel", "recipient", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "channel", "language")
    search_fields = ("recipient", "subject", "dedup_key", "order__number")
    raw_id_fields = ("customer", "order", "resend_of", "created_by")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CustomerAccount)
class CustomerAccountAdmin(admin.ModelAdmin):
    """Sign-ins to the account space. The password hash is never shown or edited here: customers set it
    themselves from a sign-in link."""

    list_display = ("customer", "last_login", "preferred_mode", "created_at")
    list_filter = ("preferred_mode",)
    search_fields = ("customer__email",)
    raw_id_fields = ("customer", "preferred_store")
    exclude = ("password",)
    readonly_fields = ("last_login", "created_at", "updated_at")
