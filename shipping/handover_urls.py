from django.urls import path

from . import handover_views

app_name = "dispatch"

urlpatterns = [
    path("handover/", handover_views.HandoverView.as_view(), name="handover"),
    path("manifests/<int:pk>/", handover_views.ManifestView.as_view(), name="manifest"),
    path("parcels/<int:pk>/label.<str:fmt>", handover_views.LabelView.as_view(), name="label"),
    path("parcels/<int:pk>/label/retry/", handover_views.LabelRetryView.as_view(), name="label_retry"),
]
