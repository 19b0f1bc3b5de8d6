from django.urls import path

from . import handover_views, parcel_views

app_name = "dispatch"

urlpatterns = [
    path("handover/", handover_views.HandoverView.as_view(), name="handover"),
    path("manifests/<int:pk>/", handover_views.ManifestView.as_view(), name="manifest"),
    path("parcels/<int:pk>/label.<str:fmt>", handover_views.LabelView.as_view(), name="label"),
    path("parcels/<int:pk>/label/retry/", handover_views.LabelRetryView.as_view(), name="label_retry"),
    path("parcels/<int:pk>/labels.<str:fmt>", parcel_views.LabelsView.as_view(), name="labels"),
    path("parcels/<int:pk>/rates/", parcel_views.ParcelRatesView.as_view(), name="parcel_rates"),
    path("parcels/<int:pk>/service/", parcel_views.ServiceOverrideView.as_view(), name="service_override"),
    path("orders/<str:number>/parcels/", parcel_views.OrderParcelRatesView.as_view(), name="order_parcels"),
]
