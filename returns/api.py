"""REST API of returns and exchanges: create one for an order of the key's channel (a line may name its
replacement: an exchange), list the channel's returns, read one. Creation honours Idempotency-Key."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import HasScope, error_response, error_responses
from orders.api_changes import IDEMPOTENCY_HEADER, idempotent_post
from orders.models import Order

from . import services
from .models import Return, ReturnReason, ReturnStatus


class ReturnLineOutput(serializers.Serializer):
    line = serializers.IntegerField(source="order_line.line_no")
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()
    reason = serializers.CharField(source="reason.code")
    exchange_sku = serializers.CharField(source="exchange_product.sku", default=None, allow_null=True)
    restocked = serializers.IntegerField()
    written_off = serializers.IntegerField()


class ReturnOutput(serializers.Serializer):
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    status = serializers.ChoiceField(choices=ReturnStatus.choices)
    method = serializers.ChoiceField(choices=Return.Method.choices)
    lines = ReturnLineOutput(many=True, source="lines.all")
    exchange_order = serializers.CharField(source="exchange_order.number", default=None, allow_null=True)
    exchange_credit = serializers.DecimalField(max_digits=12, decimal_places=2)
    refund_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    credit_notes = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReturnLineInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    reason = serializers.SlugField(help_text="A return reason's code (wrong_size, damaged…).")
    exchange_sku = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="An exchange: the replacement (the same SKU or another size of it). Empty: a refund.",
    )


class ReturnCreateInput(serializers.Serializer):
    order = serializers.CharField(max_length=32, help_text="The order's number.")
    lines = ReturnLineInput(many=True, min_length=1)
    method = serializers.ChoiceField(choices=Return.Method.choices)
    store = serializers.CharField(max_length=32, required=False, help_text="For method store: its code.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


def _queryset(channel):
    return (
        Return.objects.filter(order__channel=channel)
        .select_related("order", "exchange_order")
        .prefetch_related("lines__order_line", "lines__reason", "lines__exchange_product")
        .order_by("-created_at", "-pk")
    )


class ReturnListCreateApi(APIView):
    """GET: the channel's returns, newest first (paginated by ``?page=``). POST: open a return or an
    exchange for delivered units (refused whole, in the error format, outside the return window, beyond
    what shipped, for a replacement of another product)."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)
    PAGE = 50

    class PageQuery(serializers.Serializer):
        page = serializers.IntegerField(min_value=1, max_value=100_000, required=False, default=1)

    @extend_schema(
        operation_id="returns_list",
        parameters=[OpenApiParameter("page", int, description="1 to 100000 (50 returns a page).")],
        responses={200: ReturnOutput(many=True), **error_responses(403, 422)},
    )
    def get(self, request):
        query = self.PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = query.validated_data["page"]
        rows = list(_queryset(request.user.channel)[(page - 1) * self.PAGE : page * self.PAGE])
        return Response(ReturnOutput(rows, many=True).data)

    @extend_schema(
        operation_id="returns_create",
        request=ReturnCreateInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: ReturnOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request):
        serializer = ReturnCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = Order.objects.filter(channel=request.user.channel, number=data["order"]).first()
        if order is None:
            return error_response(
                code="not_found", message=f"No order {data['order']} for this channel.", status_code=404
            )
        by_no = {line.line_no: line for line in order.lines.all()}
        reasons = {r.code: r for r in ReturnReason.objects.filter(active=True)}
        lines = []
        for row in data["lines"]:
            if row["line"] not in by_no or row["reason"] not in reasons:
                return error_response(
                    code="validation_error",
                    message=f"Line {row['line']}: unknown line or reason {row['reason']!r}.",
                    status_code=422,
                    details={"lines": {str(row["line"]): ["Unknown line or reason."]}},
                )
            lines.append(
                services.LineRequest(
                    order_line=by_no[row["line"]],
                    quantity=row["quantity"],
                    reason=reasons[row["reason"]],
                    exchange_sku=row["exchange_sku"],
                )
            )
        store = None
        if data.get("store"):
            store = services.return_stores().filter(code=data["store"]).first()

        def run():
            ret = services.return_request(
                order=order,
                lines=lines,
                method=data["method"],
                store=store,
                note=data["note"],
                source=Return.Source.STAFF,
            )
            return status.HTTP_201_CREATED, ReturnOutput(_queryset(request.user.channel).get(pk=ret.pk)).data

        return idempotent_post(request, path="returns", run=run)


class ReturnDetailApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="returns_retrieve", responses={200: ReturnOutput, **error_responses(403, 404)}
    )
    def get(self, request, number):
        ret = _queryset(request.user.channel).filter(number=number).first()
        if ret is None:
            return error_response(
                code="not_found", message=f"No return {number} for this channel.", status_code=404
            )
        return Response(ReturnOutput(ret).data)
