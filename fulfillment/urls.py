from django.urls import path

from . import views

app_name = "fulfillment"

urlpatterns = [
    path("", views.PlanningView.as_view(), name="planning"),
    path("shifts/new/", views.ShiftEditView.as_view(), name="shift_create"),
    path("shifts/<int:pk>/edit/", views.ShiftEditView.as_view(), name="shift_edit"),
    path("shifts/<int:pk>/delete/", views.ShiftDeleteView.as_view(), name="shift_delete"),
    path("copy-week/", views.WeekCopyView.as_view(), name="week_copy"),
]
