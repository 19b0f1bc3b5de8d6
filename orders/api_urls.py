from django.urls import path

from . import api
from .channels import api as channels_api

urlpatterns = [
    path("availability/", api.AvailabilityApi.as_view(), name="api-availability"),
    path(
        "availability/changes/",
        channels_api.AvailabilityChangesApi.as_view(),
        name="api-availability-changes",
    ),
    path("promise/", api.PromiseApi.as_view(), name="api-promise"),
    path("orders/", api.OrderCreateApi.as_view(), name="api-orders"),
    path("orders/<str:number>/", api.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<str:number>/cancel/", api.OrderCancelApi.as_view(), name="api-order-cancel"),
]
