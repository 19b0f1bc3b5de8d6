"""Admin of the invoicing app. Issued documents are read-only here: no add, change or delete (corrections
are credit notes, issued from the back office); the sellers and the channels' settings are editable."""

from django.contrib import admin

from common.admin import AuditedModelAdmin

from .models import (
    BuyerProfile,
    ChannelBilling,
    ChartOfAccounts,
    DocumentDelivery,
    EReport,
    Invoice,
    InvoiceExport,
    InvoiceLine,
    LegalEntity,
    LifecycleEvent,
    NumberSequence,
    Payment,
    Transmission,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LegalEntity)
class LegalEntityAdmin(AuditedModelAdmin):
    list_display = (
        "name",
        "legal_form",
        "siret",
        "vat_number",
        "invoice_prefix",
        "credit_note_prefix",
        "is_default",
    )
    search_fields = ("name", "siren", "siret", "vat_number")

    def has_delete_permission(self, request, obj=None):
        # An entity that issued documents is protected by the database anyway; say so before trying.
        return obj is None or not obj.documents.exists()


@admin.register(ChannelBilling)
class ChannelBillingAdmin(AuditedModelAdmin):
    list_display = ("channel", "legal_entity", "issue_policy")
    list_filter = ("issue_policy",)


@admin.register(NumberSequence)
class NumberSequenceAdmin(ReadOnlyAdmin):
    list_display = ("legal_entity", "series", "year", "last_number")
    list_filter = ("series", "year")


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fk_name = "document"
    extra = 0
    fields = (
        "position",
        "sku",
        "description",
        "quantity",
        "unit_price_incl_vat",
        "vat_rate",
        "total_excl_vat",
        "total_vat",
        "total_incl_vat",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "issue_date", "buyer_name", "total_incl_vat", "status")
    list_filter = ("kind", "status", "legal_entity", "channel")
    search_fields = ("number", "buyer_name", "buyer_email", "order__number")
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline]
    readonly_fields = [f.name for f in Invoice._meta.concrete_fields]


@admin.register(DocumentDelivery)
class DocumentDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("document", "email", "status", "created_at", "sent_at")
    list_filter = ("status",)


@admin.register(InvoiceExport)
class InvoiceExportAdmin(ReadOnlyAdmin):
    list_display = ("date_from", "date_to", "channel", "status", "total", "created_at")


@admin.register(BuyerProfile)
class BuyerProfileAdmin(admin.ModelAdmin):
    """Per buyer: the e-invoice format, and for a public buyer what Chorus Pro needs."""

    list_display = ("customer", "einvoice_format", "is_public_buyer", "siret", "service_code")
    list_filter = ("einvoice_format", "is_public_buyer")
    search_fields = ("customer__email", "customer__company", "siret")
    raw_id_fields = ("customer",)


@admin.register(ChartOfAccounts)
class ChartOfAccountsAdmin(admin.ModelAdmin):
    list_display = ("legal_entity", "sales_journal", "customers", "goods", "services", "bank")


@admin.register(Transmission)
class TransmissionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "kind", "platform", "document", "status_code", "state", "attempts", "sent_at")
    list_filter = ("kind", "platform", "state")
    search_fields = ("document__number", "platform_ref")


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(ReadOnlyAdmin):
    list_display = ("document", "code", "at", "source", "platform", "reason")
    list_filter = ("code", "source", "platform")
    search_fields = ("document__number",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("document", "paid_on", "amount", "method", "reference", "created_by")
    list_filter = ("method",)
    search_fields = ("document__number", "reference")


@admin.register(EReport)
class EReportAdmin(ReadOnlyAdmin):
    list_display = ("legal_entity", "kind", "period_start", "period_end", "version", "status", "due_on")
    list_filter = ("kind", "status")
