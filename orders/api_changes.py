"""REST API of what happens to an order after it is placed: edits, units cancelled, holds, payments, and its
changes. Every POST honours ``Idempotency-Key`` (the first answer is stored in the service's transaction
and replayed for 24 h, as for order creation), and answers in the error format of DESIGN.md."""

import re
import uuid
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import HasScope, error_response, error_responses
from common.exceptions import DomainError

from .api import DeliveryInput, OrderDetailOutput, _jsonable
from .models import (
    GoodwillReason,
    GoodwillRefund,
    HoldKind,
    Order,
    OrderChange,
    PaymentStatus,
    PaymentTransaction,
)
from .payments import services as payment_services
from .selectors import order_get_for_channel
from .services import holds as hold_services
from .services.edits import EditInput, order_edit, order_lines_cancel
from .services.goodwill import order_goodwill_refund
from .services.idempotency import (
    Replay,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from .services.intake import LineInput
from .services.lifecycle import order_cancel

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Up to 255 characters (a UUID v4). The first answer is replayed for 24 h; the same key with "
    "another body is 422 idempotency_key_reused; a retry while the first runs is 409.",
)


def _not_found(number: str) -> Response:
    return error_response(code="not_found", message=f"No order {number} for this channel.", status_code=404)


def idempotent_post(request, *, path: str, run: Callable[[], tuple[int, dict]]) -> Response:
    """Run ``run`` (a service call and the answer's body) once per ``Idempotency-Key``: the answer is stored
    in the service's transaction, a business refusal (409) is stored too, a validation failure (422) frees
    the key. Without a key, the call simply runs."""
    channel = request.user.channel
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 255 or not _PRINTABLE_ASCII.fullmatch(key):
        return error_response(
            code="validation_error",
            message="Idempotency-Key is at most 255 printable ASCII characters.",
            status_code=422,
            details={"Idempotency-Key": ["At most 255 printable ASCII characters (a UUID v4)."]},
        )
    claim = None
    if key:
        # The path is part of the fingerprint: one key names one operation on one order.
        claim = idempotency_claim(
            channel=channel, key=key, fingerprint=request_fingerprint({"path": path, "body": request.data})
        )
        if isinstance(claim, Replay):
            return Response(claim.body, status=claim.status, headers={"Idempotent-Replayed": "true"})
    try:
        with transaction.atomic(durable=True):
            code, body = run()
            body = _jsonable(body)
            if claim is not None:
                idempotency_complete(claim=claim, status=code, body=body)
    except DomainError as exc:
        if claim is not None:
            if exc.status_code == 409:
                idempotency_complete(
                    claim=claim,
                    status=exc.status_code,
                    body={"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
                )
            else:
                idempotency_release(claim=claim)
        raise
    except Exception:
        if claim is not None:
            idempotency_release(claim=claim)
        raise
    return Response(body, status=code)


def _order(request, number: str) -> Order | None:
    return Order.objects.filter(channel=request.user.channel, number=number).first()


def _detail(request, number: str) -> dict:
    return OrderDetailOutput(order_get_for_channel(channel=request.user.channel, number=number)).data


# --- Changes ----------------------------------------------------------------------------------------------


class ChangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=OrderChange.Kind.choices)
    source = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    changes = serializers.ListField(
        child=serializers.DictField(), help_text="What changed, before and after."
    )
    reason = serializers.CharField()
    total_before = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_after = serializers.DecimalField(max_digits=12, decimal_places=2)
    difference = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Incl. VAT; negative: the customer owes less."
    )
    created_at = serializers.DateTimeField()


class ChangedOrderOutput(serializers.Serializer):
    change = ChangeOutput()
    order = OrderDetailOutput()


class LineQuantityInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="The line number (``lines[].line``).")
    quantity = serializers.IntegerField(
        min_value=0, max_value=10_000, help_text="The new quantity; 0 removes."
    )


class LineReplaceInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    sku = serializers.CharField(max_length=64, help_text="The product that takes the line's place.")


class NewLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)


class OrderEditInput(serializers.Serializer):
    lines = LineQuantityInput(many=True, required=False, default=list)
    replace = LineReplaceInput(many=True, required=False, default=list)
    add = NewLineInput(many=True, required=False, default=list, max_length=500)
    delivery = DeliveryInput(
        required=False, help_text="A new delivery: mode with its address, relay or store."
    )
    shipping_fee = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderEditApi(APIView):
    """Edit an order before picking starts: quantities, lines added, removed or replaced, the delivery
    (address, mode, relay point), the shipping charge. The order is re-sourced, re-promised and reserved
    again; 409 ``edit_refused`` once picking started (the message says what to do instead), 409
    ``out_of_stock`` when the new order cannot be reserved; nothing changes on any refusal."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_edit",
        request=OrderEditInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ChangedOrderOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request, number):
        serializer = OrderEditInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = _order(request, number)
        if order is None:
            return _not_found(number)
        edit = EditInput(
            quantities={x["line"]: x["quantity"] for x in data["lines"]},
            replace={x["line"]: x["sku"] for x in data["replace"]},
            add=[
                LineInput(sku=x["sku"], quantity=x["quantity"], unit_price=x.get("unit_price"))
                for x in data["add"]
            ],
            delivery=dict(data["delivery"]) if data.get("delivery") else None,
            shipping_fee=data.get("shipping_fee"),
            reason=data["reason"],
        )

        def run():
            change = order_edit(order=order, edit=edit, source="api")
            return 200, {"change": ChangeOutput(change).data, "order": _detail(request, number)}

        return idempotent_post(request, path=f"orders/{number}/edit", run=run)


class LinesCancelInput(serializers.Serializer):
    lines = LineQuantityInput(many=True, min_length=1, help_text="Units to cancel per line.")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderLinesCancelApi(APIView):
    """Cancel some units of some lines before they ship. Their reservations are released, picking is told
    (units already picked go back to their bin), the amount to refund is in ``change.difference``;
    cancelling every unit left cancels the order. 409 ``edit_refused`` for units already packed or
    shipped."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_lines_cancel",
        request=LinesCancelInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ChangedOrderOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request, number):
        serializer = LinesCancelInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = _order(request, number)
        if order is None:
            return _not_found(number)
        by_no = dict(order.lines.values_list("line_no", "pk"))
        wanted = {}
        for row in serializer.validated_data["lines"]:
            if row["line"] not in by_no:
                return error_response(
                    code="validation_error",
                    message=f"No line {row['line']} on order {number}.",
                    status_code=422,
                    details={"lines": [f"No line {row['line']}."]},
                )
            wanted[by_no[row["line"]]] = wanted.get(by_no[row["line"]], 0) + row["quantity"]

        def run():
            change = order_lines_cancel(
                order=order, quantities=wanted, reason=serializer.validated_data["reason"], source="api"
            )
            return 200, {"change": ChangeOutput(change).data, "order": _detail(request, number)}

        return idempotent_post(request, path=f"orders/{number}/cancel-lines", run=run)


class OrderChangesApi(APIView):
    """The order's changes since it was placed, newest first."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_changes_list",
        responses={200: ChangeOutput(many=True), **error_responses(403, 404)},
    )
    def get(self, request, number):
        order = _order(request, number)
        if order is None:
            return _not_found(number)
        changes = OrderChange.objects.filter(order=order).select_related("actor")
        return Response(ChangeOutput(changes, many=True).data)


class OrderCancelApi(APIView):
    """Cancel the whole order before it ships, releasing every reservation."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    class OrderCancelInput(serializers.Serializer):
        reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="orders_cancel",
        request=OrderCancelInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: OrderDetailOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request, number):
        serializer = self.OrderCancelInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = _order(request, number)
        if order is None:
            return _not_found(number)

        def run():
            order_cancel(
                order=order, reason=serializer.validated_data["reason"] or "cancelled by the channel"
            )
            return 200, _detail(request, number)

        return idempotent_post(request, path=f"orders/{number}/cancel", run=run)


# --- Holds ------------------------------------------------------------------------------------------------


class HoldInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=HoldKind.choices)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderHoldApi(APIView):
    """Put the order on hold (it keeps its reservations, is not released to picking), or clear a hold with
    ``{"kind": ..., "release": true}``. 409 ``edit_refused`` once picking started."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    class Input(HoldInput):
        release = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="orders_hold",
        request=Input,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: OrderDetailOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request, number):
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = _order(request, number)
        if order is None:
            return _not_found(number)

        def run():
            if data["release"]:
                hold_services.order_hold_release(order=order, kind=data["kind"], note=data["reason"])
            else:
                hold_services.order_hold_place(order=order, kind=data["kind"], reason=data["reason"])
            return 200, _detail(request, number)

        return idempotent_post(request, path=f"orders/{number}/hold", run=run)


# --- Payments ---------------------------------------------------------------------------------------------


class PaymentTransactionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PaymentTransaction.Kind.choices)
    status = serializers.ChoiceField(choices=PaymentTransaction.Status.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    provider = serializers.CharField()
    reference = serializers.CharField()
    credit_note = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class PaymentsOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=PaymentStatus.choices, source="payment_status")
    provider = serializers.CharField(source="payment_provider")
    reference = serializers.CharField(source="payment_reference")
    amount_authorised = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount_paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount_refunded = serializers.DecimalField(max_digits=12, decimal_places=2)
    paid_at = serializers.DateTimeField(allow_null=True)
    total_incl_vat = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="What is owed.")
    amount_to_capture = serializers.SerializerMethodField(
        help_text="What the authorisation will capture when the order ships."
    )
    amount_due = serializers.SerializerMethodField(
        help_text="Left to pay: owed, less paid and not refunded, less what will be captured."
    )
    holds = serializers.ListField(child=serializers.ChoiceField(choices=HoldKind.choices))
    transactions = PaymentTransactionOutput(many=True, source="payment_transactions.all")

    def get_amount_to_capture(self, order) -> str:
        return str(payment_services.amount_to_capture(order).quantize(payment_services.CENT))

    def get_amount_due(self, order) -> str:
        return str(payment_services.amount_due(order).quantize(payment_services.CENT))


class PaymentRecordInput(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    method = serializers.ChoiceField(
        choices=["transfer", "card", "direct_debit", "cheque", "cash", "other"],
        required=False,
        default="transfer",
    )
    paid_on = serializers.DateField(required=False)


class OrderPaymentsApi(APIView):
    """GET: the order's payment state and its transactions (captures, refunds with the payment service's
    ids). POST: record a payment received (a transfer...): the payment hold is cleared once paid, the open
    invoices are settled. 422 ``payment_refused`` above what is left to pay."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_payments_retrieve", responses={200: PaymentsOutput, **error_responses(403, 404)}
    )
    def get(self, request, number):
        order = _order(request, number)
        if order is None:
            return _not_found(number)
        return Response(PaymentsOutput(order).data)

    @extend_schema(
        operation_id="orders_payments_create",
        request=PaymentRecordInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PaymentsOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request, number):
        serializer = PaymentRecordInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = _order(request, number)
        if order is None:
            return _not_found(number)

        def run():
            payment_services.payment_record(
                order=order,
                amount=data["amount"],
                reference=data["reference"],
                method=data["method"],
                paid_on=data.get("paid_on"),
            )
            return status.HTTP_201_CREATED, PaymentsOutput(Order.objects.get(pk=order.pk)).data

        return idempotent_post(request, path=f"orders/{number}/payments", run=run)


# --- Goodwill refunds -------------------------------------------------------------------------------------


class RefundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Incl. VAT.")
    reason = serializers.ChoiceField(choices=GoodwillReason.choices)
    reason_code = serializers.CharField(help_text="The marketplace's reason code sent with it, if any.")
    note = serializers.CharField()
    source = serializers.CharField(help_text="backoffice, api, mirakl…")
    created_at = serializers.DateTimeField()


class RefundedOrderOutput(serializers.Serializer):
    refund = RefundOutput()
    order = OrderDetailOutput()


class RefundInput(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), help_text='Incl. VAT, e.g. "5.00".'
    )
    reason = serializers.ChoiceField(choices=GoodwillReason.choices)
    note = serializers.CharField(max_length=500, help_text="Why, for the timeline.")
    reason_code = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A marketplace order: the marketplace's refund reason code (else the connector's default).",
    )


class OrderRefundsApi(APIView):
    """GET: the amounts given back on the order without a return (commercial gestures), newest first.
    POST: give an amount back without units (a late delivery, the shipping charge): a credit note (or, when
    the order is not invoiced yet, one right after its invoice), the refund through the order's payment
    service, the customer told, and for a marketplace's order the marketplace asked to refund (OR28). 409
    ``refund_refused`` above what is left to give back (``details.left``) or before anything was paid or
    invoiced; the same ``Idempotency-Key`` never refunds twice."""

    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_refunds_list",
        responses={200: RefundOutput(many=True), **error_responses(403, 404)},
    )
    def get(self, request, number):
        order = _order(request, number)
        if order is None:
            return _not_found(number)
        return Response(RefundOutput(GoodwillRefund.objects.filter(order=order), many=True).data)

    @extend_schema(
        operation_id="orders_refunds_create",
        request=RefundInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RefundedOrderOutput, **error_responses(403, 404, 409, 422)},
    )
    def post(self, request, number):
        serializer = RefundInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = _order(request, number)
        if order is None:
            return _not_found(number)
        header = request.headers.get("Idempotency-Key", "").strip()
        key = f"api:{header}" if header else f"api:{uuid.uuid4()}"

        def run():
            refund, _created = order_goodwill_refund(
                order=order,
                amount=data["amount"],
                reason=data["reason"],
                note=data["note"],
                reason_code=data["reason_code"],
                key=key,
                source="api",
            )
            return status.HTTP_201_CREATED, {
                "refund": RefundOutput(refund).data,
                "order": _detail(request, number),
            }

        return idempotent_post(request, path=f"orders/{number}/refunds", run=run)
