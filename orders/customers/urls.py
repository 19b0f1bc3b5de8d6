"""Customer pages under ``customers/`` (namespace ``customers``), included at the root by oms/urls.py."""

from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="detail"),
    path("<int:pk>/account-link/", views.CustomerAccountLinkView.as_view(), name="account_link"),
    path("<int:pk>/export/", views.CustomerExportView.as_view(), name="export"),
    path("<int:pk>/erase/", views.CustomerEraseView.as_view(), name="erase"),
]
