"""The bench's URLconf for ``intake.py --floor``: the application's URLs, then ``POST /api/v1/floor/``.

The floor endpoint goes through the same stack as ``POST /api/v1/orders/`` (gunicorn, the middleware, DRF
with the API-key authentication and the scope permission, the JSON parser on the same body, the renderer),
and does the least an order could: one INSERT of a tiny row and a small JSON answer. What an order costs
beyond it is ours (validation, sourcing, rows, events, the answer). Mounted only by
``bench/floor_settings.py``: never reachable in production."""

from django.db import connection
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import HasScope
from oms.urls import handler400, handler404, handler500  # noqa: F401
from oms.urls import urlpatterns as app_urlpatterns

TABLE = "bench_floor"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, external_id varchar(100) NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())"
)


class FloorApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("orders",)

    def post(self, request):
        data = request.data  # parsed like an order's body (common.api.JSONParser)
        external_id = str(data.get("external_id", ""))[:100] if isinstance(data, dict) else ""
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {TABLE} (external_id) VALUES (%s) RETURNING id", [external_id])
            pk = cursor.fetchone()[0]
        return Response({"id": pk, "external_id": external_id, "status": "ok"}, status=201)


# Last, as the orders' endpoints come after most of the application's URLs.
urlpatterns = [*app_urlpatterns, path("api/v1/floor/", FloorApi.as_view(), name="bench-floor")]
