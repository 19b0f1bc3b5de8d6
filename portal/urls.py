"""Public pages of the customer: the tracking portal under ``track/`` and the account space under
``account/`` (one ``portal`` namespace). Included once at the root by oms/urls.py; the invoices fragment
``track/<token>/invoices/`` belongs to invoicing and the returns form ``track/<token>/returns/new/`` to
returns."""

from django.urls import path

from . import account_views, views

app_name = "portal"

urlpatterns = [
    path("track/", views.lookup, name="lookup"),
    path("track/theme.css", views.theme, name="theme"),
    path("track/<str:token>/", views.track, name="track"),
    path("account/", account_views.home, name="account"),
    path("account/signin/", account_views.signin, name="account_signin"),
    path("account/signout/", account_views.signout, name="account_signout"),
    path("account/link/<str:token>/", account_views.link, name="account_link"),
    path("account/addresses/", account_views.addresses, name="account_addresses"),
    path("account/addresses/new/", account_views.address_edit, name="account_address_create"),
    path("account/addresses/<int:pk>/", account_views.address_edit, name="account_address_edit"),
    path("account/addresses/<int:pk>/delete/", account_views.address_delete, name="account_address_delete"),
    path(
        "account/addresses/<int:pk>/default/", account_views.address_default, name="account_address_default"
    ),
    path("account/preferences/", account_views.preferences, name="account_preferences"),
    path("account/password/", account_views.password, name="account_password"),
    path("account/data/", account_views.data, name="account_data"),
    path("account/data/export/", account_views.export, name="account_export"),
    path("account/data/delete/", account_views.delete, name="account_delete"),
]
