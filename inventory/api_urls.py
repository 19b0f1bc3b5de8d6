from django.urls import path

from . import api

urlpatterns = [
    path("locations/", api.LocationListApi.as_view(), name="api-locations"),
    path("products/", api.ProductCreateApi.as_view(), name="api-products"),
    path("products/<path:sku>/", api.ProductDetailApi.as_view(), name="api-product-detail"),
    path("stock/", api.StockApi.as_view(), name="api-stock"),
    path("stock/movements/", api.StockMovementCreateApi.as_view(), name="api-stock-movements"),
    path("stock/incoming/", api.IncomingCreateApi.as_view(), name="api-stock-incoming"),
]
