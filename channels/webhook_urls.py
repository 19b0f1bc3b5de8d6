"""Webhook endpoints (no login, no CSRF: the signature is the authentication). Included at /webhooks/."""

from django.urls import path

from . import webhooks

urlpatterns = [
    path("shopify/<slug:code>/", webhooks.ShopifyWebhookView.as_view(), name="webhook-shopify"),
    path("woocommerce/<slug:code>/", webhooks.WooCommerceWebhookView.as_view(), name="webhook-woocommerce"),
]
