from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.LocationListView.as_view(), name="location_list"),
    path("new/", views.LocationEditView.as_view(), name="location_create"),
    path("<slug:code>/edit/", views.LocationEditView.as_view(), name="location_edit"),
]
