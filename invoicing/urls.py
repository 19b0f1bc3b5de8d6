"""Pages of the invoicing app: documents under ``invoices/``, settings under ``settings/invoicing/``, and the
customer portal's fragment under ``track/<token>/invoices/``. Included once at the root by oms/urls.py."""

from django.urls import path

from . import views

app_name = "invoicing"

urlpatterns = [
    path("invoices/", views.DocumentListView.as_view(), name="document_list"),
    path("invoices/export/", views.ExportCreateView.as_view(), name="export_create"),
    path("invoices/export/<int:pk>/", views.ExportDetailView.as_view(), name="export_detail"),
    path(
        "invoices/export/<int:pk>/<str:fmt>/",
        views.ExportDownloadView.as_view(),
        name="export_download",
    ),
    path("invoices/<int:pk>/", views.DocumentDetailView.as_view(), name="document_detail"),
    path("invoices/<int:pk>/file/<str:fmt>/", views.DocumentFileView.as_view(), name="document_file"),
    path("invoices/<int:pk>/send/", views.DocumentSendView.as_view(), name="document_send"),
    path("invoices/<int:pk>/credit/", views.CreditNoteCreateView.as_view(), name="credit_note_create"),
    path("invoices/<int:pk>/transmit/", views.DocumentTransmitView.as_view(), name="document_transmit"),
    path("invoices/<int:pk>/payments/new/", views.PaymentCreateView.as_view(), name="payment_create"),
    path("invoices/<int:pk>/sandbox-buyer/", views.SandboxDecisionView.as_view(), name="sandbox_decision"),
    path("invoices/einvoicing/", views.EInvoicingView.as_view(), name="einvoicing"),
    path("invoices/ereports/<int:pk>/", views.EReportDetailView.as_view(), name="ereport_detail"),
    path("invoices/orders/<str:number>/", views.OrderInvoicingView.as_view(), name="order_invoicing"),
    path(
        "webhooks/einvoicing/<slug:platform>/", views.PlatformWebhookView.as_view(), name="platform_webhook"
    ),
    path("settings/invoicing/", views.InvoicingSettingsView.as_view(), name="settings"),
    path(
        "settings/invoicing/entities/<int:pk>/accounts/",
        views.ChartOfAccountsView.as_view(),
        name="entity_accounts",
    ),
    path("settings/invoicing/entities/new/", views.LegalEntityEditView.as_view(), name="entity_create"),
    path("settings/invoicing/entities/<int:pk>/", views.LegalEntityEditView.as_view(), name="entity_edit"),
    # Fragments of the back office's order and customer pages.
    path("orders/<str:number>/documents/", views.StaffDocumentsView.as_view(), name="order_documents"),
    path("customers/<int:pk>/documents/", views.StaffDocumentsView.as_view(), name="customer_documents"),
    path("track/<str:token>/invoices/", views.PortalDocumentsView.as_view(), name="portal_documents"),
    path(
        "track/<str:token>/invoices/<str:number>.pdf",
        views.PortalDocumentPdfView.as_view(),
        name="portal_document_pdf",
    ),
]
