from django.urls import path

from . import views

app_name = "shipping"

urlpatterns = [
    path("", views.ServiceListView.as_view(), name="service_list"),
    path("new/", views.CarrierEditView.as_view(), name="carrier_create"),
    path("<int:pk>/edit/", views.CarrierEditView.as_view(), name="carrier_edit"),
    path("services/new/", views.ServiceEditView.as_view(), name="service_create"),
    path("services/<int:pk>/edit/", views.ServiceEditView.as_view(), name="service_edit"),
    path("services/<int:pk>/grids/", views.ServiceGridsView.as_view(), name="service_grids"),
]
