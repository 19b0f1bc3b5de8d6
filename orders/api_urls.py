from django.urls import path

from . import api, api_batch, api_changes, api_receive

urlpatterns = [
    path("availability/", api.AvailabilityApi.as_view(), name="api-availability"),
    path("promise/", api.PromiseApi.as_view(), name="api-promise"),
    path("orders/", api.OrderCreateApi.as_view(), name="api-orders"),
    path("orders/batch/", api_batch.OrderBatchCreateApi.as_view(), name="api-orders-batch"),
    path("orders/<str:number>/", api.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<str:number>/cancel/", api_changes.OrderCancelApi.as_view(), name="api-order-cancel"),
    path("orders/<str:number>/edit/", api_changes.OrderEditApi.as_view(), name="api-order-edit"),
    path(
        "orders/<str:number>/cancel-lines/",
        api_changes.OrderLinesCancelApi.as_view(),
        name="api-order-cancel-lines",
    ),
    path("orders/<str:number>/changes/", api_changes.OrderChangesApi.as_view(), name="api-order-changes"),
    path("orders/<str:number>/hold/", api_changes.OrderHoldApi.as_view(), name="api-order-hold"),
    path("orders/<str:number>/refunds/", api_changes.OrderRefundsApi.as_view(), name="api-order-refunds"),
    path("orders/<str:number>/payments/", api_changes.OrderPaymentsApi.as_view(), name="api-order-payments"),
    # Inventory's operation, served here for the Idempotency-Key (per channel) and the orders it names.
    path(
        "stock/incoming/<int:pk>/receive/",
        api_receive.IncomingReceiveApi.as_view(),
        name="api-stock-incoming-receive",
    ),
]
