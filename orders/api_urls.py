from django.urls import path

from . import api

urlpatterns = [
    path("availability/", api.AvailabilityApi.as_view(), name="api-availability"),
    path("promise/", api.PromiseApi.as_view(), name="api-promise"),
    path("orders/", api.OrderCreateApi.as_view(), name="api-orders"),
    path("orders/<str:number>/", api.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<str:number>/cancel/", api.OrderCancelApi.as_view(), name="api-order-cancel"),
]
