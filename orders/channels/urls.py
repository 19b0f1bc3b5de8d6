"""Connector pages, under /settings/channels/<code>/ (included by orders/urls.py, ``orders`` namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("settings/channels/<slug:code>/connector/", views.ConnectorView.as_view(), name="connector"),
    path(
        "settings/channels/<slug:code>/connector/sync/",
        views.ConnectorSyncView.as_view(),
        name="connector_sync",
    ),
    path("settings/channels/<slug:code>/deliveries/", views.DeliveryListView.as_view(), name="delivery_list"),
    path(
        "settings/channels/<slug:code>/deliveries/<int:pk>/",
        views.DeliveryDetailView.as_view(),
        name="delivery_detail",
    ),
    path("settings/channels/<slug:code>/import/", views.ImportView.as_view(), name="import"),
    path(
        "settings/channels/<slug:code>/imports/<int:pk>/",
        views.ImportDetailView.as_view(),
        name="import_detail",
    ),
    path(
        "settings/channels/<slug:code>/imports/<int:pk>/progress/",
        views.ImportProgressView.as_view(),
        name="import_progress",
    ),
]
