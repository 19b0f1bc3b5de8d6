"""Connector pages, under /settings/channels/<code>/ (included at the root by oms/urls.py, ``channels``
namespace; the channel's own page and its API keys are orders')."""

from django.urls import path

from . import views

app_name = "channels"

urlpatterns = [
    path("settings/connectors/", views.ConnectorHealthView.as_view(), name="connector_health"),
    path("settings/channels/<slug:code>/connector/", views.ConnectorView.as_view(), name="connector"),
    path(
        "settings/channels/<slug:code>/connector/sync/",
        views.ConnectorSyncView.as_view(),
        name="connector_sync",
    ),
    path(
        "settings/channels/<slug:code>/connector/reasons/",
        views.MarketplaceReasonsView.as_view(),
        name="marketplace_reasons",
    ),
    path(
        "settings/channels/<slug:code>/connector/sends/<int:pk>/replay/",
        views.MarketplaceSendReplayView.as_view(),
        name="marketplace_send_replay",
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
