from django.urls import path

from . import relay_views, rule_views, settings_views, views, webhook_views

app_name = "shipping"

urlpatterns = [
    path("", views.ServiceListView.as_view(), name="service_list"),
    path("new/", views.CarrierEditView.as_view(), name="carrier_create"),
    path("<int:pk>/edit/", views.CarrierEditView.as_view(), name="carrier_edit"),
    path("services/new/", views.ServiceEditView.as_view(), name="service_create"),
    path("services/<int:pk>/edit/", views.ServiceEditView.as_view(), name="service_edit"),
    path("services/<int:pk>/grids/", views.ServiceGridsView.as_view(), name="service_grids"),
    path("rules/", rule_views.RuleListView.as_view(), name="rule_list"),
    path("rules/new/", rule_views.RuleEditView.as_view(), name="rule_create"),
    path("rules/<int:pk>/edit/", rule_views.RuleEditView.as_view(), name="rule_edit"),
    path("rules/<int:pk>/delete/", rule_views.RuleDeleteView.as_view(), name="rule_delete"),
    path("webhooks/", webhook_views.WebhookListView.as_view(), name="webhook_list"),
    path("webhooks/<int:pk>/", webhook_views.WebhookDetailView.as_view(), name="webhook_detail"),
    path("accounts/", settings_views.AccountListView.as_view(), name="account_list"),
    path("accounts/<slug:adapter>/", settings_views.AccountEditView.as_view(), name="account_edit"),
    path("returns-in-parcel/", settings_views.ChannelReturnsView.as_view(), name="channel_returns"),
    path("branding/", settings_views.BrandingView.as_view(), name="branding"),
    path(
        "branding/label-preview.pdf", settings_views.BrandingLabelPreviewView.as_view(), name="branding_label"
    ),
    path("relay-points/search/", relay_views.RelayPointSearchView.as_view(), name="relay_point_search"),
]
