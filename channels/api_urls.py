"""The connectors' REST API endpoint: the availability change feed (under /api/v1/, see oms/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path(
        "availability/changes/",
        api.AvailabilityChangesApi.as_view(),
        name="api-availability-changes",
    ),
]
