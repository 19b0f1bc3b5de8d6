"""Returns: back-office pages under ``returns/`` (and ``orders/<number>/returns/new/``), the customer's
pages under ``track/<token>/returns/``. Included once at the root by oms/urls.py (namespace ``returns``)."""

from django.urls import path

from . import settings_views, views

app_name = "returns"

urlpatterns = [
    path("returns/", views.ReturnListView.as_view(), name="list"),
    path("returns/<str:number>/", views.ReturnDetailView.as_view(), name="detail"),
    path("returns/<str:number>/receive/", views.ReturnReceiveView.as_view(), name="receive"),
    path("returns/<str:number>/label.pdf", views.ReturnLabelView.as_view(), name="label"),
    path("returns/<str:number>/<slug:action>/", views.ReturnActionView.as_view(), name="action"),
    path("orders/<str:number>/returns/", views.OrderReturnsView.as_view(), name="order_returns"),
    path("orders/<str:number>/returns/new/", views.ReturnCreateView.as_view(), name="create"),
    path("customers/<int:pk>/returns/", views.CustomerReturnsView.as_view(), name="customer_returns"),
    path("track/<str:token>/returns/new/", views.PortalRequestView.as_view(), name="request"),
    path("track/<str:token>/returns/<str:number>/", views.PortalDetailView.as_view(), name="portal_detail"),
    path(
        "track/<str:token>/returns/<str:number>/label.pdf",
        views.PortalLabelView.as_view(),
        name="portal_label",
    ),
    # Managers' settings: return rules per channel and the return reasons.
    path("settings/returns/", settings_views.ReturnSettingsView.as_view(), name="return_settings"),
    path(
        "settings/returns/rules/<slug:code>/",
        settings_views.ReturnRuleEditView.as_view(),
        name="return_rule_edit",
    ),
    path(
        "settings/returns/reasons/new/",
        settings_views.ReturnReasonEditView.as_view(),
        name="return_reason_create",
    ),
    path(
        "settings/returns/reasons/<int:pk>/",
        settings_views.ReturnReasonEditView.as_view(),
        name="return_reason_edit",
    ),
]
