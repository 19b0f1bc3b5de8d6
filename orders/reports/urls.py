"""Pages of the reports, under ``/reports/`` (namespace ``reports``)."""

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.SalesReportView.as_view(), name="sales"),
    path("delivery/", views.DeliveryReportView.as_view(), name="delivery"),
    path("fulfilment/", views.FulfilmentReportView.as_view(), name="fulfilment"),
    path("returns/", views.ReturnsReportView.as_view(), name="returns"),
    path("forecast/", views.ForecastListView.as_view(), name="forecast"),
    path("forecast/run/", views.ForecastRunView.as_view(), name="forecast_run"),
    path("forecast/<str:sku>/", views.ForecastDetailView.as_view(), name="forecast_detail"),
    path("reorder/", views.ReorderView.as_view(), name="reorder"),
]
