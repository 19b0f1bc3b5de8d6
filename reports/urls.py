"""Pages of the reports, under ``/reports/``, and the managers' reorder policies under ``/settings/reorder/``
(namespace ``reports``; included at the root by oms/urls.py)."""

from django.urls import path

from . import settings_views, views

app_name = "reports"

urlpatterns = [
    path("reports/", views.SalesReportView.as_view(), name="sales"),
    path("reports/delivery/", views.DeliveryReportView.as_view(), name="delivery"),
    path("reports/fulfilment/", views.FulfilmentReportView.as_view(), name="fulfilment"),
    path("reports/returns/", views.ReturnsReportView.as_view(), name="returns"),
    path("reports/forecast/", views.ForecastListView.as_view(), name="forecast"),
    path("reports/forecast/run/", views.ForecastRunView.as_view(), name="forecast_run"),
    path("reports/forecast/<str:sku>/", views.ForecastDetailView.as_view(), name="forecast_detail"),
    path("reports/reorder/", views.ReorderView.as_view(), name="reorder"),
    # Managers' settings: each location's reorder policy (used to be Django admin only).
    path("settings/reorder/", settings_views.ReorderSettingsView.as_view(), name="reorder_settings"),
    path(
        "settings/reorder/<slug:code>/",
        settings_views.ReorderPolicyEditView.as_view(),
        name="reorder_policy_edit",
    ),
]
