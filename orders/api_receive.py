"""``POST /api/v1/stock/incoming/{id}/receive/``: receive an expected replenishment through the API.

The work is inventory's (``incoming_receive_units``: the units go on hand, what pre-orders held becomes
reserved stock in order of arrival of the orders); the view lives here, beside the orders' API, because an
``Idempotency-Key`` is kept per channel (the API key's), which is this app's, and because the answer names
the orders the units were allocated to. The list of replenishments is inventory's (``GET
/stock/incoming/``)."""

import json
import re

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from common.api import HasScope, error_response, error_responses
from inventory import services as inventory_services
from inventory.api import IncomingStockOutput, MovementOutput, incoming_stock_row
from inventory.models import IncomingStock

from .models import OrderLine
from .services.idempotency import idempotent, request_fingerprint

# An Idempotency-Key is a structured-field string (IETF draft): printable ASCII only.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class ReceiveInput(serializers.Serializer):
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=1_000_000,
        required=False,
        help_text="Units that arrived; leave it out to receive everything still expected.",
    )
    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Written on the ledger movement (a delivery note number); else the replenishment's.",
    )


class AllocatedOutput(serializers.Serializer):
    order = serializers.CharField(help_text="The order number.")
    line = serializers.IntegerField(help_text="The order line's number.")
    sku = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Units of this delivery now reserved for the line.")


class ReceiveOutput(serializers.Serializer):
    received = serializers.IntegerField(help_text="Units received by this call.")
    incoming = IncomingStockOutput(help_text="The replenishment after this delivery.")
    movement = MovementOutput(help_text="The ledger movement that put the units on hand.")
    allocated = AllocatedOutput(
        many=True,
        help_text="The pre-ordered lines served by this delivery, oldest order first. Their orders move "
        "from awaiting_stock to allocated once every line is served.",
    )


def _jsonable(data):
    return json.loads(json.dumps(data, cls=JSONEncoder))


class IncomingReceiveApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("stock",)

    @extend_schema(
        operation_id="stock_incoming_receive",
        summary="Receive an incoming replenishment",
        description=(
            "Units of a replenishment arrived at its location: all that is still expected, or `quantity`. "
            "They go on hand (a `receipt` movement, `transfer_in` for a transfer); the units pre-orders "
            "were waiting for become reserved stock first, oldest order first, and the rest is free stock. "
            "A replenishment received in full is closed (`status` received). A `receipt` movement of the "
            "same SKU at the same location (`POST /stock/movements/`) is received against the open "
            "replenishments in the same way, oldest expected first."
        ),
        request=ReceiveInput,
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="The replenishment's id."),
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Up to 255 characters (a UUID v4). The first answer is replayed for 24 h, so a "
                "retried delivery is never received twice.",
            ),
        ],
        examples=[
            OpenApiExample("Everything still expected", request_only=True, value={}),
            OpenApiExample(
                "Part of it", request_only=True, value={"quantity": 20, "reference": "BL-2027-0042"}
            ),
        ],
        responses={
            200: OpenApiResponse(ReceiveOutput, description="Received."),
            **error_responses(403, 404, 409, 422),
        },
    )
    def post(self, request, pk: int):
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255 or not _PRINTABLE_ASCII.fullmatch(key):
            return error_response(
                code="validation_error",
                message="Idempotency-Key is at most 255 printable ASCII characters.",
                status_code=422,
                details={"Idempotency-Key": ["At most 255 printable ASCII characters (a UUID v4)."]},
            )
        serializer = ReceiveInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not IncomingStock.objects.filter(pk=pk).exists():
            return error_response(
                code="not_found", message=f"No incoming replenishment {pk}.", status_code=404
            )

        def receive() -> tuple[int, dict]:
            receipt = inventory_services.incoming_receive_units(
                incoming_id=pk, quantity=data.get("quantity"), reference=data["reference"]
            )
            return status.HTTP_200_OK, _jsonable(ReceiveOutput(_answer(receipt)).data)

        code, body, replayed = idempotent(
            channel=request.user.channel,
            key=key,
            fingerprint=request_fingerprint({"receive": pk, "body": request.data}),
            action=receive,
        )
        return Response(body, status=code, headers={"Idempotent-Replayed": "true"} if replayed else None)


def _answer(receipt) -> dict:
    incoming = IncomingStock.objects.select_related("product", "location", "from_location").get(
        pk=receipt.incoming.pk
    )
    lines = OrderLine.objects.select_related("order").in_bulk([s["line_id"] for s in receipt.served])
    movement = receipt.movement
    return {
        "received": receipt.quantity,
        "incoming": incoming_stock_row(incoming),
        "movement": {
            "id": movement.pk,
            "sku": incoming.product.sku,
            "location": incoming.location.code,
            "quantity": movement.delta,
            "reason": movement.reason,
            "reason_code": movement.reason_code,
            "on_hand_after": movement.on_hand_after,
            "created_at": movement.created_at,
        },
        "allocated": [
            {
                "order": lines[s["line_id"]].order.number,
                "line": lines[s["line_id"]].line_no,
                "sku": lines[s["line_id"]].sku,
                "quantity": s["quantity"],
            }
            for s in receipt.served
        ],
    }
