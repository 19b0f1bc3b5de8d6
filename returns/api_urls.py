"""The returns' REST API endpoints (under /api/v1/, see oms/urls.py): returns and exchanges."""

from django.urls import path

from . import api

urlpatterns = [
    path("returns/", api.ReturnListCreateApi.as_view(), name="api-returns"),
    path("returns/<str:number>/", api.ReturnDetailApi.as_view(), name="api-return-detail"),
]
