from django.urls import path

from . import api

urlpatterns = [
    path("relay-points/", api.RelayPointListApi.as_view(), name="api-relay-points"),
]
