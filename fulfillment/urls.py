from django.urls import path

from . import views, views_floor, views_partners

app_name = "fulfillment"

urlpatterns = [
    path("planning/", views.PlanningView.as_view(), name="planning"),
    path("settings/3pl/", views_partners.PartnerListView.as_view(), name="partner_list"),
    path("settings/3pl/<int:pk>/", views_partners.PartnerDetailView.as_view(), name="partner_detail"),
    path("settings/3pl/<int:pk>/sync/", views_partners.PartnerSyncView.as_view(), name="partner_sync"),
    path(
        "settings/3pl/requests/<int:pk>/retry/",
        views_partners.RequestRetryView.as_view(),
        name="request_retry",
    ),
    path(
        "settings/3pl/shipments/<int:pk>/replay/",
        views_partners.ShipmentReplayView.as_view(),
        name="partner_shipment_replay",
    ),
    path(
        "settings/3pl/snapshots/<int:pk>/",
        views_partners.SnapshotDetailView.as_view(),
        name="snapshot_detail",
    ),
    path("planning/shifts/new/", views.ShiftEditView.as_view(), name="shift_create"),
    path("planning/shifts/<int:pk>/edit/", views.ShiftEditView.as_view(), name="shift_edit"),
    path("planning/shifts/<int:pk>/delete/", views.ShiftDeleteView.as_view(), name="shift_delete"),
    path("planning/copy-week/", views.WeekCopyView.as_view(), name="week_copy"),
    path("picking/", views_floor.PickingHomeView.as_view(), name="picking"),
    path("picking/release/", views_floor.WaveReleaseView.as_view(), name="wave_release"),
    path("picking/settings/", views_floor.WaveSettingsView.as_view(), name="wave_settings"),
    path("picking/print/", views_floor.PrintJobStartView.as_view(), name="print_start"),
    path("picking/waves/<int:pk>/", views_floor.WavePickView.as_view(), name="wave_pick"),
    path("picking/waves/<int:pk>/short/", views_floor.WaveShortView.as_view(), name="wave_short"),
    path("picking/waves/<int:pk>/undo/", views_floor.WaveUndoView.as_view(), name="wave_undo"),
    path("picking/waves/<int:pk>/put-back/", views_floor.WavePutBackView.as_view(), name="wave_put_back"),
    path("picking/waves/<int:pk>/pick-list.pdf", views_floor.WavePdfView.as_view(), name="wave_pdf"),
    path("packing/", views_floor.PackStationView.as_view(), name="pack_station"),
    path("packing/<int:pk>/", views_floor.PackView.as_view(), name="pack"),
    path("packing/<int:pk>/undo/", views_floor.PackUndoView.as_view(), name="pack_undo"),
    path("packing/<int:pk>/close/", views_floor.ParcelCloseView.as_view(), name="parcel_close"),
    path("packing/parcels/<int:pk>/slip.pdf", views_floor.SlipPdfView.as_view(), name="slip_pdf"),
    path(
        "packing/branding/slip.pdf", views_floor.BrandingPreviewView.as_view(kind="slip"), name="slip_preview"
    ),
    path(
        "packing/branding/pick-list.pdf",
        views_floor.BrandingPreviewView.as_view(kind="picklist"),
        name="pick_list_preview",
    ),
    path("print-jobs/<int:pk>/", views_floor.PrintJobView.as_view(), name="job"),
    path("print-jobs/<int:pk>/download/", views_floor.PrintJobDownloadView.as_view(), name="job_download"),
]
