"""Back-office pages of the orders app: the orders under ``orders/``, channels and their API keys under
``settings/channels/``. Included once by oms/urls.py at the root (one ``orders`` namespace)."""

from django.urls import path

from . import views, views_changes, views_phone, views_pickup

app_name = "orders"

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order_list"),
    path("orders/new/", views.OrderCreateView.as_view(), name="order_create"),
    path("orders/new/products/", views_phone.OrderProductsView.as_view(), name="order_products"),
    path("orders/new/customers/", views_phone.OrderCustomerLookupView.as_view(), name="order_customers"),
    path("orders/new/options/", views_phone.OrderDeliveryOptionsView.as_view(), name="order_options"),
    path("orders/late/", views.LateRiskView.as_view(), name="late_risk"),
    path("orders/<str:number>/", views.OrderDetailView.as_view(), name="order_detail"),
    path("orders/<str:number>/cancel/", views.OrderCancelView.as_view(), name="order_cancel"),
    path("orders/<str:number>/edit/", views_changes.OrderEditView.as_view(), name="order_edit"),
    path(
        "orders/<str:number>/cancel-units/",
        views_changes.OrderLinesCancelView.as_view(),
        name="order_lines_cancel",
    ),
    path("orders/<str:number>/payments/", views_changes.OrderPaymentView.as_view(), name="order_payment"),
    path("orders/<str:number>/refunds/", views_changes.OrderGoodwillView.as_view(), name="order_goodwill"),
    path("orders/<str:number>/hold/", views_changes.OrderHoldView.as_view(), name="order_hold"),
    path("pickup/", views_pickup.PickupListView.as_view(), name="pickup_list"),
    path("pickup/<str:number>/", views_pickup.PickupOrderView.as_view(), name="pickup_order"),
    path("pickup/<str:number>/<slug:action>/", views_pickup.PickupActionView.as_view(), name="pickup_action"),
    path(
        "orders/<str:number>/notifications/",
        views.OrderNotificationsView.as_view(),
        name="order_notifications",
    ),
    path(
        "orders/<str:number>/notifications/<int:pk>/",
        views.NotificationDetailView.as_view(),
        name="notification_detail",
    ),
    path(
        "orders/<str:number>/notifications/<int:pk>/preview/",
        views.NotificationPreviewView.as_view(),
        name="notification_preview",
    ),
    path(
        "orders/<str:number>/notifications/<int:pk>/resend/",
        views.NotificationResendView.as_view(),
        name="notification_resend",
    ),
    path("notifications/", views.NotificationListView.as_view(), name="notification_list"),
    path("settings/sourcing/", views.SourcingWhatIfView.as_view(), name="sourcing_whatif"),
    path("settings/channels/", views.ChannelListView.as_view(), name="channel_list"),
    path("settings/channels/<slug:code>/", views.ChannelDetailView.as_view(), name="channel_detail"),
    path("settings/channels/<slug:code>/keys/new/", views.ApiKeyCreateView.as_view(), name="api_key_create"),
    path(
        "settings/channels/<slug:code>/keys/<int:pk>/revoke/",
        views.ApiKeyRevokeView.as_view(),
        name="api_key_revoke",
    ),
]
