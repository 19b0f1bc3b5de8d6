from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("webhooks/", views.WebhookListView.as_view(), name="webhook_list"),
    path("webhooks/new/", views.WebhookCreateView.as_view(), name="webhook_create"),
    path("webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="webhook_detail"),
    path("webhooks/<int:pk>/edit/", views.WebhookEditView.as_view(), name="webhook_edit"),
    path("webhooks/<int:pk>/<slug:action>/", views.WebhookActionView.as_view(), name="webhook_action"),
    path("webhooks/deliveries/<int:pk>/", views.DeliveryDetailView.as_view(), name="delivery_detail"),
    path("hubspot/", views.HubspotView.as_view(), name="hubspot"),
]
