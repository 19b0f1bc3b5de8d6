"""``POST /api/v1/orders/batch/``: up to 500 orders in one call, each taken or refused on its own."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import HasScope, error_response, error_responses
from common.exceptions import DomainError
from common.text import safe_data, safe_text

from .api import (
    _PRINTABLE_ASCII,
    OrderCreateInput,
    OrderOutput,
    _order_input,
    held_body,
    line_body,
    order_body,
    order_input_fast,
)
from .services.batch import MAX_BATCH, orders_create_batch
from .services.idempotency import (
    Replay,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)


class BatchInput(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.DictField(),
        allow_empty=False,
        max_length=MAX_BATCH,
        help_text=f"1 to {MAX_BATCH} orders, each as the body of POST /api/v1/orders/.",
    )


class BatchErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class BatchResultOutput(serializers.Serializer):
    status = serializers.IntegerField(help_text="201, or the status the single endpoint would answer.")
    order = OrderOutput(required=False, help_text="With 201: the order as POST /api/v1/orders/ returns it.")
    error = BatchErrorOutput(required=False, help_text="Otherwise: the error in the API's error format.")


class BatchOutput(serializers.Serializer):
    results = BatchResultOutput(many=True, help_text="One per order sent, in the same order.")


def _orders_fast(data) -> list | None:
    """``BatchInput(data=data).validated_data["orders"]`` when the body is plainly well formed (a list of
    1 to MAX_BATCH JSON objects; DRF's ``DictField`` would copy each with ``str()`` of its keys, which JSON
    keys already are); ``None``: let the serializer decide."""
    if type(data) is not dict:
        return None
    orders = data.get("orders")
    if type(orders) is not list or not 0 < len(orders) <= MAX_BATCH:
        return None
    if not all(type(order) is dict and all(type(k) is str for k in order) for order in orders):
        return None
    return [dict(order) for order in orders]


def _error(code: str, message: str, details) -> dict:
    return {"code": code, "message": safe_text(str(message)), "details": safe_data(details or {})}


class OrderBatchCreateApi(APIView):
    """Take a list of orders in one call. Each order is all-or-nothing and has its own result; the call
    itself answers 200 as long as the list is well formed, even when some orders are refused."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_batch_create",
        request=BatchInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="For the whole batch: the first answer is replayed for 24 h.",
            )
        ],
        examples=[
            OpenApiExample(
                "Two orders",
                request_only=True,
                value={
                    "orders": [
                        {
                            "external_id": "SHOP-1001",
                            "customer": {"email": "a@example.fr"},
                            "delivery": {
                                "mode": "home",
                                "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon"},
                            },
                            "lines": [{"sku": "TSHIRT-M", "quantity": 2}],
                        },
                        {
                            "external_id": "SHOP-1002",
                            "customer": {"email": "b@example.fr"},
                            "delivery": {"mode": "store", "store": "paris"},
                            "lines": [{"sku": "MUG", "quantity": 1}],
                        },
                    ]
                },
            ),
        ],
        responses={
            200: OpenApiResponse(BatchOutput, description="One result per order, in the order sent."),
            **error_responses(403, 409, 422),
        },
    )
    def post(self, request):
        channel = request.user.channel
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255 or not _PRINTABLE_ASCII.fullmatch(key):
            return error_response(
                code="validation_error",
                message="Idempotency-Key is at most 255 printable ASCII characters.",
                status_code=422,
                details={"Idempotency-Key": ["At most 255 printable ASCII characters (a UUID v4)."]},
            )
        raw_orders = _orders_fast(request.data)
        if raw_orders is None:
            batch = BatchInput(data=request.data)
            batch.is_valid(raise_exception=True)
            raw_orders = batch.validated_data["orders"]
        answers: list[dict | None] = [None] * len(raw_orders)
        inputs, positions = [], []
        for index, raw in enumerate(raw_orders):
            validated = order_input_fast(raw)
            if validated is None:
                serializer = OrderCreateInput(data=raw)
                if serializer.is_valid():
                    validated = serializer.validated_data
            if validated is not None:
                inputs.append(_order_input(validated))
                positions.append(index)
            else:
                answers[index] = {
                    "status": 422,
                    "error": _error("validation_error", "The order has invalid fields.", serializer.errors),
                }

        claim = None
        if key:
            claim = idempotency_claim(
                channel=channel, key=key, fingerprint=request_fingerprint({"batch": request.data})
            )
            if isinstance(claim, Replay):
                return Response(claim.body, status=claim.status, headers={"Idempotent-Replayed": "true"})
        try:
            results = orders_create_batch(channel=channel, orders=inputs) if inputs else []
            for index, result in zip(positions, results, strict=True):
                if result.ok:
                    # The order as written (its lines, allocations, customer and channel are in memory:
                    # nothing is read back, as in the single intake's answer).
                    order, lines, held = result.written
                    line_bodies = [
                        line_body(line, allocations=[held_body(*h) for h in hs])
                        for line, hs in zip(lines, held, strict=True)
                    ]
                    answers[index] = {"status": 201, "order": order_body(order, lines=line_bodies)}
                else:
                    exc: DomainError = result.error
                    answers[index] = {
                        "status": exc.status_code,
                        "error": _error(exc.code, exc.message, exc.details),
                    }
            body = {"results": answers}
        except Exception:
            if claim is not None:
                idempotency_release(claim=claim)
            raise
        if claim is not None:
            idempotency_complete(claim=claim, status=200, body=body)
        return Response(body, status=200)
