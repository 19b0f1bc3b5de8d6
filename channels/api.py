"""REST API of the connectors: the availability change feed (``GET /api/v1/availability/changes/``)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import HasScope, error_response, error_responses
from inventory.models import Product
from inventory.selectors import availability
from orders.services.sourcing import channel_location_ids

from .feed import CursorExpired, CursorInvalid, changes_read, cursor_now

MAX_LIMIT = 1000


class ChangeRow(serializers.Serializer):
    sku = serializers.CharField()
    available = serializers.IntegerField()
    preorderable = serializers.IntegerField()
    next_restock_on = serializers.DateField(allow_null=True)


class ChangesOutput(serializers.Serializer):
    results = ChangeRow(many=True, help_text="The current availability of every SKU that changed.")
    next_cursor = serializers.CharField(help_text="Pass it as `since` on the next call (opaque).")
    has_more = serializers.BooleanField(help_text="More changes are waiting: call again at once.")


class AvailabilityChangesApi(APIView):
    """What changed since a cursor, for shops that sync availability themselves."""

    permission_classes = [HasScope]
    required_scopes = ("stock", "catalog", "orders")

    @extend_schema(
        operation_id="availability_changes",
        summary="Availability changes since a cursor",
        description=(
            "Incremental availability for the key's channel. Call without `since` to get a cursor for "
            "the present (read full values with `GET /availability/` first), then call with the last "
            "`next_cursor`: each SKU whose stock, reservations or incoming stock changed since is listed "
            "once with its current availability. A change committed late is never skipped (the cursor "
            "follows database transactions, not clocks). Cursors expire after 7 days (410 "
            "`cursor_expired`: read everything again)."
        ),
        parameters=[
            OpenApiParameter("since", str, description="The `next_cursor` of the previous call."),
            OpenApiParameter("limit", int, description=f"Changes read per call, 1 to {MAX_LIMIT} (500)."),
        ],
        responses={200: ChangesOutput, **error_responses(403, 410, 422)},
    )
    def get(self, request):
        since = request.query_params.get("since", "").strip()
        try:
            limit = int(request.query_params.get("limit", 500))
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            return error_response(
                code="validation_error",
                message=f"limit is a whole number from 1 to {MAX_LIMIT}.",
                status_code=422,
                details={"limit": [f"From 1 to {MAX_LIMIT}."]},
            )
        if not since:
            return Response(
                ChangesOutput({"results": [], "next_cursor": cursor_now(), "has_more": False}).data
            )
        try:
            product_ids, next_cursor, more = changes_read(cursor=since, limit=limit)
        except CursorExpired as exc:
            return error_response(code="cursor_expired", message=str(exc), status_code=410)
        except CursorInvalid as exc:
            return error_response(
                code="validation_error", message=str(exc), status_code=422, details={"since": [str(exc)]}
            )
        channel = request.user.channel
        skus = list(Product.objects.filter(pk__in=product_ids).values_list("sku", flat=True))
        found = availability(
            skus=skus, location_ids=channel_location_ids(channel=channel), safety_buffer=channel.safety_buffer
        )
        rows = [
            {
                "sku": a.sku,
                "available": a.available,
                "preorderable": a.preorderable,
                "next_restock_on": a.next_restock_on,
            }
            for a in sorted(found.values(), key=lambda a: a.sku)
        ]
        return Response(ChangesOutput({"results": rows, "next_cursor": next_cursor, "has_more": more}).data)
