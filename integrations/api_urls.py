from django.urls import path

from . import api

urlpatterns = [
    path("webhooks/", api.WebhookListCreateApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", api.WebhookDetailApi.as_view(), name="api-webhook-detail"),
]
