from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static as static_url
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

from common.audit_views import AuditLogView
from shipping.handover_views import CarrierWebhookView as shipping_webhook

from . import api_docs, health, views

# Under /api/, a refused request and a URL that no endpoint serves answer in the API's error format.
handler400 = "common.api.bad_request"
handler404 = "common.api.page_not_found"
# A request cut off from the database (down, or its connection killed mid-request) is a 503 with Retry-After.
handler500 = "common.api.server_error"

admin.site.site_header = _("OMS administration")
admin.site.site_title = _("OMS administration")
admin.site.index_title = _("Data and settings")

urlpatterns = [
    # The signed webhooks first: other programs post there at their peak (bench/webhooks.py), and a URL is
    # resolved by trying the patterns in order (~90 before them otherwise). No other pattern starts so.
    path("webhooks/", include("channels.webhook_urls")),  # Shopify, WooCommerce (signed)
    path("webhooks/carriers/<slug:code>/", shipping_webhook.as_view(), name="webhook-carrier"),
    # The API next, for the same reason (order intake: ~20 patterns tried before it otherwise); every one
    # of its paths starts with api/v1/, which no page's pattern matches.
    path("api/v1/", include("inventory.api_urls")),
    path("api/v1/", include("orders.api_urls")),
    path("api/v1/", include("channels.api_urls")),
    path("api/v1/", include("returns.api_urls")),
    path("api/v1/", include("shipping.api_urls")),
    path("api/v1/", include("integrations.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI and Redoc under the Content-Security-Policy: see oms/api_docs.py.
    path("api/v1/docs/", api_docs.swagger_view, name="api-docs"),
    path("api/v1/redoc/", api_docs.redoc_view, name="api-redoc"),
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    path("settings/events/", views.EventConsumersView.as_view(), name="event_consumers"),
    path(
        "settings/events/<int:pk>/<slug:action>/",
        views.EventFailureActionView.as_view(),
        name="event_failure_action",
    ),
    # Browsers ask for /favicon.ico whatever the page says: the same icon as the pages' <link rel="icon">.
    path("favicon.ico", RedirectView.as_view(url=static_url("img/favicon.svg"), permanent=True)),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    # The admin signs in through the same, rate-limited, form (then back to the admin page asked for).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True), name="admin_login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", login_required(views.PasswordChangeView.as_view()), name="password_change"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("inventory.urls")),  # locations/ and stock/ (one "inventory" namespace)
    path("settings/carriers/", include("shipping.urls")),
    path("settings/audit/", AuditLogView.as_view(), name="audit_log"),
    path("shipping/", include("shipping.handover_urls")),  # the outgoing dock: hand-over, manifests, labels
    path("", include("fulfillment.urls")),  # planning/, picking/, packing/, print-jobs/
    path("", include("returns.urls")),  # returns/, orders/<n>/returns/new/, track/<token>/returns/
    path("", include("orders.urls")),  # orders/ and settings/channels/
    path("", include("channels.urls")),  # settings/channels/<code>/connector/, deliveries/, import/
    path("customers/", include("orders.customers.urls")),  # customer service's customer pages
    path("", include("portal.urls")),  # the customer's side: track/ and account/
    path("", include("invoicing.urls")),  # invoices/, settings/invoicing/, track/<token>/invoices/
    path("", include("reports.urls")),  # reports/ and settings/reorder/
    path("settings/", include("integrations.urls")),  # settings/webhooks/ and settings/hubspot/
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
