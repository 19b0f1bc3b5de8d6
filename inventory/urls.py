from django.urls import include, path

from . import views, views_catalogue

app_name = "inventory"

location_patterns = [
    path("", views.LocationListView.as_view(), name="location_list"),
    path("new/", views.LocationEditView.as_view(), name="location_create"),
    path("<slug:code>/edit/", views.LocationEditView.as_view(), name="location_edit"),
]

stock_patterns = [
    path("", views.ProductListView.as_view(), name="product_list"),
    path("receive/", views.ReceiveView.as_view(), name="receive"),
    path("adjust/", views.AdjustView.as_view(), name="adjust"),
    path("transfers/", views.TransferListView.as_view(), name="transfer_list"),
    path("transfers/new/", views.TransferCreateView.as_view(), name="transfer_create"),
    path("incoming/new/", views.IncomingCreateView.as_view(), name="incoming_create"),
    path("incoming/<int:pk>/receive/", views.IncomingReceiveView.as_view(), name="incoming_receive"),
    path("incoming/<int:pk>/cancel/", views.IncomingCancelView.as_view(), name="incoming_cancel"),
    # Last: a SKU may contain "/" (the API allows it), and must not shadow the pages above.
    path("<path:sku>/", views.ProductStockView.as_view(), name="product_stock"),
]

catalogue_patterns = [
    path("", views_catalogue.CatalogueListView.as_view(), name="catalogue"),
    path("new/", views_catalogue.ProductEditView.as_view(), name="product_create"),
    path("<int:pk>/", views_catalogue.ProductEditView.as_view(), name="product_edit"),
    path("<int:pk>/archive/", views_catalogue.ProductArchiveView.as_view(), name="product_archive"),
    path("<int:pk>/kit/", views_catalogue.ProductKitView.as_view(), name="product_kit"),
    path("import/", views_catalogue.CatalogueImportView.as_view(), name="catalogue_import"),
    path(
        "import/<int:pk>/",
        views_catalogue.CatalogueImportDetailView.as_view(),
        name="catalogue_import_detail",
    ),
    path(
        "import/<int:pk>/progress/",
        views_catalogue.CatalogueImportProgressView.as_view(),
        name="catalogue_import_progress",
    ),
]

# One namespace for all three prefixes: oms/urls.py includes this module once, at the root.
urlpatterns = [
    path("locations/", include(location_patterns)),
    path("stock/", include(stock_patterns)),
    path("catalogue/", include(catalogue_patterns)),
]
