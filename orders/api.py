"""REST API of the orders app: availability, promise, orders (create with Idempotency-Key, read). What
happens to an order afterwards (cancel, edit, units cancelled, holds, payments) is in api_changes.py."""

import functools
import hashlib
import json
import re
from decimal import Decimal

from django.db import models
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import (
    COUNTRY_HELP,
    POSTCODE_HELP,
    HasScope,
    address_validate,
    error_response,
    error_responses,
)
from common.exceptions import DomainError
from common.fast_input import fast_validator
from inventory.models import Allocation
from inventory.selectors import availability

from .models import DeliveryMode, HoldKind, Order, OrderStatus, PaymentStatus
from .payments.services import amount_due, amount_to_capture
from .selectors import order_get_for_channel
from .services.idempotency import (
    Replay,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from .services.intake import LineInput, OrderInput, order_create
from .services.promise import promise_quote
from .services.sourcing import channel_location_ids

MAX_SKUS = 100
# The order statuses as the API's choice fields list them (named StatusEnum in the schema: settings).
ORDER_STATUS_VALUES = OrderStatus.values
# An Idempotency-Key is a structured-field string (IETF draft): printable ASCII only.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class AvailabilityRow(serializers.Serializer):
    sku = serializers.CharField()
    available = serializers.IntegerField()
    preorderable = serializers.IntegerField()
    next_restock_on = serializers.DateField(allow_null=True)


class AvailabilityOutput(serializers.Serializer):
    results = AvailabilityRow(many=True)
    unknown_skus = serializers.ListField(child=serializers.CharField())


class AvailabilityApi(APIView):
    """Real-time availability for the key's channel."""

    permission_classes = [HasScope]
    required_scopes = ("stock", "catalog", "orders")

    @extend_schema(
        operation_id="availability_list",
        parameters=[
            OpenApiParameter(
                "sku",
                str,
                many=True,
                required=True,
                description="Repeat for several SKUs (1 to 100).",
                examples=[OpenApiExample("Two SKUs", value=["TSHIRT-M", "MUG"])],
            ),
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag of a previous answer: 304 without a body when nothing changed.",
            ),
            OpenApiParameter(
                "ETag",
                str,
                OpenApiParameter.HEADER,
                response=[200, 304],
                description="Names this answer; send it back in If-None-Match.",
            ),
        ],
        responses={
            200: OpenApiResponse(AvailabilityOutput, description="Availability for the key's channel."),
            304: OpenApiResponse(description="Not modified: the answer is the one of the ETag sent."),
            **error_responses(403, 422),
        },
    )
    def get(self, request):
        skus = [s.strip() for s in request.query_params.getlist("sku") if s.strip()]
        if not skus or len(skus) > MAX_SKUS:
            return error_response(
                code="validation_error",
                message=f"Give between 1 and {MAX_SKUS} sku parameters.",
                status_code=422,
                details={"sku": [f"Between 1 and {MAX_SKUS} values."]},
            )
        channel = request.user.channel
        result = availability(
            skus=skus, location_ids=channel_location_ids(channel=channel), safety_buffer=channel.safety_buffer
        )
        body = {
            "results": [
                {
                    "sku": a.sku,
                    "available": a.available,
                    "preorderable": a.preorderable,
                    "next_restock_on": a.next_restock_on,
                }
                for a in (result[s] for s in dict.fromkeys(skus) if s in result)
            ],
            "unknown_skus": [s for s in dict.fromkeys(skus) if s not in result],
        }
        data = AvailabilityOutput(body).data
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        etag = f'"{digest[:32]}"'
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
        if _etag_matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(data, headers=headers)


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): ``W/`` prefixes are ignored."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


class PromiseOptionOutput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=DeliveryMode.values)
    carrier = serializers.CharField()
    service = serializers.CharField()
    service_code = serializers.CharField()
    express = serializers.BooleanField()
    price_excl_vat = serializers.DecimalField(max_digits=10, decimal_places=2)
    price_incl_vat = serializers.DecimalField(max_digits=10, decimal_places=2)
    earliest = serializers.DateField()
    latest = serializers.DateField()
    parcels = serializers.IntegerField()
    ship_from = serializers.ListField(child=serializers.CharField())
    store = serializers.CharField(allow_null=True)


class UnavailableOutput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=DeliveryMode.values)
    code = serializers.CharField()
    message = serializers.CharField()
    store = serializers.CharField(allow_null=True)


class PromiseQuoteOutput(serializers.Serializer):
    options = PromiseOptionOutput(many=True)
    unavailable = UnavailableOutput(many=True)


class PromiseQuery(serializers.Serializer):
    sku = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=MAX_SKUS)
    quantity = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=10_000), required=False, default=list
    )
    postcode = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, required=False, default="FR")
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False
    )
    mode = serializers.ChoiceField(choices=DeliveryMode.values, required=False)
    store = serializers.CharField(max_length=32, required=False)
    allow_preorder = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        quantities = attrs.get("quantity") or []
        if quantities and len(quantities) != len(attrs["sku"]):
            raise serializers.ValidationError({"quantity": ["Give one quantity per sku, or none (1 each)."]})
        return address_validate(attrs, postcode_required=False)


class PromiseApi(APIView):
    """Delivery options and promised dates for a basket, before ordering (what a checkout shows)."""

    permission_classes = [HasScope]
    required_scopes = ("orders", "catalog", "stock")

    @extend_schema(
        operation_id="promise_retrieve",
        parameters=[
            OpenApiParameter(
                "sku", str, many=True, required=True, description="Repeat for each basket line."
            ),
            OpenApiParameter(
                "quantity", int, many=True, description="One per sku, in the same order (default 1)."
            ),
            OpenApiParameter(
                "postcode", str, description=f"Destination postcode (home and relay). {POSTCODE_HELP}"
            ),
            OpenApiParameter("country", str, description=f"{COUNTRY_HELP} Default FR."),
            OpenApiParameter("latitude", float),
            OpenApiParameter("longitude", float),
            OpenApiParameter(
                "mode", str, enum=DeliveryMode.values, description="Only this mode (default: all)."
            ),
            OpenApiParameter("store", str, description="For store pickup: this store only."),
            OpenApiParameter("allow_preorder", bool, description="Count incoming stock (later dates)."),
        ],
        responses={200: PromiseQuoteOutput, **error_responses(403, 422)},
    )
    def get(self, request):
        params = {
            key: (
                request.query_params.getlist(key)
                if key in ("sku", "quantity")
                else request.query_params.get(key)
            )
            for key in request.query_params
        }
        query = PromiseQuery(data=params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        quantities = data["quantity"] or [1] * len(data["sku"])
        options, unavailable = promise_quote(
            channel=request.user.channel,
            items=list(zip(data["sku"], quantities, strict=True)),
            modes=[data["mode"]] if data.get("mode") else list(DeliveryMode.values),
            postcode=data["postcode"],
            country=data["country"].upper(),
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            store_code=data.get("store"),
            allow_preorder=data["allow_preorder"],
        )
        body = {"options": [vars(o) for o in options], "unavailable": [vars(u) for u in unavailable]}
        return Response(PromiseQuoteOutput(body).data)


# --- Orders ------------------------------------------------------------------------------------------


class CustomerInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    siren = serializers.RegexField(r"^\d{9}$", required=False, allow_blank=True, default="")
    vat_number = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=["fr", "en"], required=False, default="fr")


class AddressInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    postcode = serializers.CharField(max_length=16, help_text=POSTCODE_HELP)
    city = serializers.CharField(max_length=120)
    country = serializers.CharField(
        max_length=2, required=False, default="FR", help_text=f"{COUNTRY_HELP} Default FR."
    )
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False
    )

    def validate(self, attrs):
        return address_validate(attrs)


class RelayPointInput(AddressInput):
    carrier = serializers.CharField(max_length=32)
    id = serializers.CharField(max_length=64)
    line1 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    postcode = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default="", help_text=f"Optional. {POSTCODE_HELP}"
    )
    city = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        return address_validate(attrs, postcode_required=False)


class DeliveryInput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=DeliveryMode.values)
    address = AddressInput(required=False)
    relay_point = RelayPointInput(required=False)
    store = serializers.CharField(max_length=32, required=False)

    def validate(self, attrs):
        needed = {"home": "address", "relay": "relay_point", "store": "store"}[attrs["mode"]]
        if not attrs.get(needed):
            raise serializers.ValidationError({needed: [f"Required for {attrs['mode']} delivery."]})
        return attrs


class LineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)


class PaymentInputStatus(models.TextChoices):
    UNPAID = "unpaid", "unpaid"
    PENDING = "pending", "pending"
    AUTHORISED = "authorised", "authorised"
    PAID = "paid", "paid"


class PaymentInput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=PaymentInputStatus.choices,
        help_text="pending holds the order away from picking until paid; authorised is captured on shipment.",
    )
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, help_text="Default: the order's total."
    )
    provider = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="stripe, mollie, sandbox, or yours.",
    )
    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The payment service's id (a Stripe PaymentIntent pi_…, a Mollie payment tr_…).",
    )
    paid_at = serializers.DateTimeField(required=False)


class OrderCreateInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    customer = CustomerInput()
    delivery = DeliveryInput()
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=500)
    allow_preorder = serializers.BooleanField(required=False, default=False)
    purchase_order = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    shipping_fee = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="The shipping charge the customer paid, incl. VAT (its own invoice line). Default 0.",
    )
    payment = PaymentInput(required=False)


class AllocationOutput(serializers.Serializer):
    sku = serializers.CharField(
        source="product.sku", help_text="The product held: the line's, or one component of a kit."
    )
    location = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Allocation.Kind.values)
    expected_on = serializers.DateField(source="incoming.expected_on", allow_null=True, default=None)


class KitPartOutput(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()


class LineOutput(serializers.Serializer):
    line = serializers.IntegerField(source="line_no")
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField(
        help_text="Units the customer gets (0 once every unit was cancelled)."
    )
    quantity_cancelled = serializers.IntegerField(help_text="Units cancelled or removed by an edit.")
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    vat_rate = serializers.DecimalField(max_digits=3, decimal_places=1)
    components = KitPartOutput(
        many=True, help_text="A kit's components (per kit, as ordered): what its allocations hold."
    )
    allocations = AllocationOutput(many=True)


class PromiseOutput(serializers.Serializer):
    earliest = serializers.DateField(allow_null=True)
    latest = serializers.DateField(allow_null=True)


class TimelineOutput(serializers.Serializer):
    type = serializers.CharField()
    at = serializers.DateTimeField()
    message = serializers.CharField()


class CustomerOutput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()


class DeliveryAddressOutput(serializers.Serializer):
    name = serializers.CharField()
    company = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    postcode = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField()


class DeliveryOutput(serializers.Serializer):
    """The delivery mode and the address the carrier gets (the relay's or the store's for those modes)."""

    mode = serializers.ChoiceField(choices=DeliveryMode.values)
    address = DeliveryAddressOutput()
    relay_point = serializers.DictField(required=False, help_text="The relay point as the channel sent it.")
    store = serializers.CharField(required=False, help_text="The pickup store's location code.")


class PaymentStateOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=PaymentStatus.choices)
    provider = serializers.CharField()
    reference = serializers.CharField()
    amount_authorised = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount_paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount_refunded = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount_to_capture = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="What the authorisation will capture when the order ships."
    )
    amount_due = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="Left to pay: owed, less paid and not refunded, less what will be captured.",
    )
    paid_at = serializers.DateTimeField(allow_null=True)


class OrderOutput(serializers.Serializer):
    number = serializers.CharField()
    external_id = serializers.CharField()
    channel = serializers.CharField(source="channel.code")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    created_at = serializers.DateTimeField()
    customer = CustomerOutput()
    delivery = serializers.SerializerMethodField()
    lines = LineOutput(many=True)
    total_incl_vat = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Goods and shipping, incl. VAT."
    )
    shipping_fee = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="Incl. VAT.")
    shipping_vat_rate = serializers.DecimalField(max_digits=3, decimal_places=1)
    payment = serializers.SerializerMethodField()
    holds = serializers.ListField(
        child=serializers.ChoiceField(choices=HoldKind.choices),
        help_text="Holds that keep the order from picking (payment, fraud, address, manual).",
    )
    currency = serializers.CharField()
    promised_delivery = serializers.SerializerMethodField()
    tracking_url = serializers.URLField(help_text="The customer's tracking page, with its secret token.")

    @extend_schema_field(PaymentStateOutput)
    def get_payment(self, order) -> dict:
        return PaymentStateOutput(
            {
                "status": order.payment_status,
                "provider": order.payment_provider,
                "reference": order.payment_reference,
                "amount_authorised": order.amount_authorised,
                "amount_paid": order.amount_paid,
                "amount_refunded": order.amount_refunded,
                "amount_to_capture": amount_to_capture(order),
                "amount_due": amount_due(order),
                "paid_at": order.paid_at,
            }
        ).data

    def get_promised_delivery(self, order) -> PromiseOutput(allow_null=True):
        if not order.promised_earliest:
            return None
        return {"earliest": order.promised_earliest, "latest": order.promised_latest}

    @extend_schema_field(DeliveryOutput)
    def get_delivery(self, order) -> dict:
        address = {
            "name": order.ship_name,
            "company": order.ship_company,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "postcode": order.ship_postcode,
            "city": order.ship_city,
            "country": order.ship_country,
            "phone": order.ship_phone,
        }
        body = {"mode": order.delivery_mode, "address": address}
        if order.delivery_mode == DeliveryMode.RELAY:
            body["relay_point"] = order.relay_point
        if order.pickup_location_id:
            body["store"] = order.pickup_location.code
        return body


class ShipmentLineOutput(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()


class TrackingEventOutput(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.CharField()
    label = serializers.CharField()
    at = serializers.DateTimeField()
    place = serializers.CharField()


class ShipmentOutput(serializers.Serializer):
    number = serializers.CharField()
    location = serializers.CharField(source="location.code")
    carrier = serializers.SerializerMethodField()
    service = serializers.SerializerMethodField()
    status = serializers.CharField()
    tracking_number = serializers.CharField()
    tracking_url = serializers.CharField()
    weight_g = serializers.IntegerField()
    packed_at = serializers.DateTimeField(source="created_at")
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    lines = ShipmentLineOutput(many=True, source="lines.all")
    events = TrackingEventOutput(many=True, source="events.all")

    def get_carrier(self, shipment) -> str | None:
        return shipment.service.carrier.code if shipment.service_id else None

    def get_service(self, shipment) -> str | None:
        return shipment.service.code if shipment.service_id else None


class OrderDetailOutput(OrderOutput):
    shipments = ShipmentOutput(many=True, source="shipments.all")
    timeline = TimelineOutput(many=True)


@functools.cache
def _order_fast_path():
    return fast_validator(OrderCreateInput)


def order_input_fast(data) -> dict | None:
    """``OrderCreateInput(data=data).validated_data`` for a well-formed order, without building the
    serializer (``common.fast_input``); ``None``: let the serializer validate it (and word its errors)."""
    return _order_fast_path()(data)


def _order_input(data: dict) -> OrderInput:
    return OrderInput(
        external_id=data["external_id"],
        customer=dict(data["customer"]),
        delivery={**data["delivery"], "mode": data["delivery"]["mode"]},
        lines=[
            LineInput(sku=x["sku"], quantity=x["quantity"], unit_price=x.get("unit_price"))
            for x in data["lines"]
        ],
        allow_preorder=data["allow_preorder"],
        purchase_order=data["purchase_order"],
        note=data["note"],
        shipping_fee=data.get("shipping_fee"),
        payment=dict(data["payment"]) if data.get("payment") else None,
    )


class OrderCreateApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_create",
        request=OrderCreateInput,
        examples=[
            OpenApiExample(
                "Home delivery",
                request_only=True,
                value={
                    "external_id": "SHOP-1001",
                    "customer": {
                        "email": "a@example.fr",
                        "first_name": "Ana",
                        "last_name": "Roux",
                        "phone": "+33612345678",
                    },
                    "delivery": {
                        "mode": "home",
                        "address": {"line1": "3 rue X", "postcode": "69003", "city": "Lyon", "country": "FR"},
                    },
                    "lines": [{"sku": "TSHIRT-M", "quantity": 2, "unit_price": "19.90"}],
                    "allow_preorder": True,
                },
            ),
            OpenApiExample(
                "Relay point",
                request_only=True,
                value={
                    "external_id": "SHOP-1002",
                    "customer": {"email": "b@example.fr", "first_name": "Bruno", "last_name": "Petit"},
                    "delivery": {
                        "mode": "relay",
                        "relay_point": {
                            "carrier": "mondial_relay",
                            "id": "FR-012345",
                            "name": "Tabac du Parc",
                            "line1": "2 place Bellecour",
                            "postcode": "69002",
                            "city": "Lyon",
                        },
                    },
                    "lines": [{"sku": "TSHIRT-M", "quantity": 1}],
                },
            ),
        ],
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Up to 255 characters (a UUID v4). The first answer is replayed for 24 h.",
            )
        ],
        responses={201: OrderOutput, **error_responses(403, 409, 422)},
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
        validated = order_input_fast(request.data)
        if validated is None:  # not plainly well formed: DRF decides, and words the errors
            serializer = OrderCreateInput(data=request.data)
            serializer.is_valid(raise_exception=True)  # invalid requests store nothing under the key
            validated = serializer.validated_data
        claim = None
        if key:
            claim = idempotency_claim(channel=channel, key=key, fingerprint=request_fingerprint(request.data))
            if isinstance(claim, Replay):
                return Response(claim.body, status=claim.status, headers={"Idempotent-Replayed": "true"})

        answer: dict = {}

        def store(order: Order) -> None:
            # Inside the intake's transaction: the stored answer is the one sent, byte for byte.
            if claim is not None:
                answer["body"] = _created_body(order)
                idempotency_complete(claim=claim, status=201, body=answer["body"])

        try:
            order = order_create(channel=channel, data=_order_input(validated), on_created=store)
        except DomainError as exc:
            if claim is not None:
                if exc.status_code == 409:  # a business answer: replay it like Stripe does
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
        body = answer.get("body") or _created_body(order)
        return Response(body, status=status.HTTP_201_CREATED)


def _created_body(order: Order) -> dict:
    """The answer to a creation, from the order intake just wrote (its lines, allocations, customer and
    channel are in memory: nothing is read back)."""
    return order_body(order)


# The fields whose formatting is not plain str()/int(): DRF's own, built once (their to_representation
# reads nothing but their arguments and the REST_FRAMEWORK settings).
_MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)
_PRICE = serializers.DecimalField(max_digits=10, decimal_places=2)
_RATE = serializers.DecimalField(max_digits=3, decimal_places=1)
_DATETIME = serializers.DateTimeField()


def _str(value):
    return None if value is None else str(value)


def _int(value):
    return None if value is None else int(value)


def _date(value):
    return None if value is None else value.isoformat()


def _datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


# Per field: its places as a Decimal quantum, the most its whole part may hold, and the text of a zero.
_QUANTA = {
    field: (
        Decimal(1).scaleb(-field.decimal_places),
        field.max_digits - field.decimal_places,
        f"{0:.{field.decimal_places}f}",
    )
    for field in (_MONEY, _PRICE, _RATE)
}


def _decimal(field, value):
    if value is None:
        return None
    if value.__class__ is Decimal:
        quantum, whole, zero = _QUANTA[field]
        if value.same_quantum(quantum) and value.adjusted() < whole:
            # Already at the field's places (a price, a total or a rate as the database keeps them), within
            # its digits: DRF's quantize leaves it as it is and writes it with "{:f}", which for such a value
            # is str() (tests/orders/test_api_order_body.py compares both).
            return str(value)
        if not value and not value.is_signed() and value.is_finite():
            return zero  # Decimal("0"), a default: quantized to the field's places
    return field.to_representation(value)


def order_body(order: Order, *, lines: list[dict] | None = None) -> dict:
    """``OrderOutput(order).data`` made JSON-ready, built by hand: the same keys in the same order and the
    same strings (``tests/orders/test_api_order_body.py`` compares the two on every shape of order), at a
    fraction of the CPU (DRF deep-copies and binds ~60 fields per order, then the answer went through a
    JSON round trip). ``OrderOutput`` stays the schema and the reference. ``lines``: the lines' bodies
    when the caller has them without the order's related managers (the batch: ``line_body``)."""
    customer = order.customer
    body = {
        "number": _str(order.number),
        "external_id": _str(order.external_id),
        "channel": _str(order.channel.code),
        "status": _str(order.status),
        "created_at": _datetime(order.created_at),
        "customer": None
        if customer is None
        else {
            "email": _str(customer.email),
            "first_name": _str(customer.first_name),
            "last_name": _str(customer.last_name),
            "phone": _str(customer.phone),
        },
        "delivery": _delivery_body(order),
        "lines": [_line_body(line) for line in order.lines.all()] if lines is None else lines,
        "total_incl_vat": _decimal(_MONEY, order.total_incl_vat),
        "shipping_fee": _decimal(_PRICE, order.shipping_fee),
        "shipping_vat_rate": _decimal(_RATE, order.shipping_vat_rate),
        "payment": {
            "status": _str(order.payment_status),
            "provider": _str(order.payment_provider),
            "reference": _str(order.payment_reference),
            "amount_authorised": _decimal(_MONEY, order.amount_authorised),
            "amount_paid": _decimal(_MONEY, order.amount_paid),
            "amount_refunded": _decimal(_MONEY, order.amount_refunded),
            "amount_to_capture": _decimal(_MONEY, amount_to_capture(order)),
            "amount_due": _decimal(_MONEY, amount_due(order)),
            "paid_at": _datetime(order.paid_at),
        },
        "holds": None if order.holds is None else [str(kind) for kind in order.holds],
        "currency": _str(order.currency),
        "promised_delivery": None
        if not order.promised_earliest
        else {"earliest": _date(order.promised_earliest), "latest": _date(order.promised_latest)},
        "tracking_url": _str(order.tracking_url),
    }
    return body


def _delivery_body(order: Order) -> dict:
    body = {
        "mode": _str(order.delivery_mode),
        "address": {
            "name": _str(order.ship_name),
            "company": _str(order.ship_company),
            "line1": _str(order.ship_line1),
            "line2": _str(order.ship_line2),
            "postcode": _str(order.ship_postcode),
            "city": _str(order.ship_city),
            "country": _str(order.ship_country),
            "phone": _str(order.ship_phone),
        },
    }
    if order.delivery_mode == DeliveryMode.RELAY:
        body["relay_point"] = _jsonable(order.relay_point)
    if order.pickup_location_id:
        body["store"] = _str(order.pickup_location.code)
    return body


def _line_body(line, allocations: list[dict] | None = None) -> dict:
    return {
        "line": _int(line.line_no),
        "sku": _str(line.sku),
        "name": _str(line.name),
        "quantity": _int(line.quantity),
        "quantity_cancelled": _int(line.quantity_cancelled),
        "unit_price": _decimal(_PRICE, line.unit_price),
        "vat_rate": _decimal(_RATE, line.vat_rate),
        "components": None
        if line.components is None
        else [
            {"sku": _str(part["sku"]), "name": _str(part["name"]), "quantity": _int(part["quantity"])}
            for part in line.components
        ],
        "allocations": [_allocation_body(allocation) for allocation in line.allocations.all()]
        if allocations is None
        else allocations,
    }


def _allocation_body(allocation) -> dict:
    incoming = allocation.incoming
    return held_body(
        sku=allocation.product.sku,
        location=allocation.location.code,
        quantity=allocation.quantity,
        kind=allocation.kind,
        expected_on=incoming.expected_on if incoming is not None else None,
    )


def held_body(sku, location, quantity, kind, expected_on) -> dict:
    """An allocation's body from its values (the batch's ``Held``: it has them without the allocation's
    related objects)."""
    return {
        "sku": _str(sku),
        "location": _str(location),
        "quantity": _int(quantity),
        "kind": _str(kind),
        "expected_on": _date(expected_on),
    }


def line_body(line, *, allocations: list[dict]) -> dict:
    """A line's body with its allocations' bodies given (``held_body``)."""
    return _line_body(line, allocations)


def _jsonable(data):
    import json

    from rest_framework.utils.encoders import JSONEncoder

    return json.loads(json.dumps(data, cls=JSONEncoder))


class OrderDetailApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="orders_retrieve", responses={200: OrderDetailOutput, **error_responses(403, 404)}
    )
    def get(self, request, number):
        order = order_get_for_channel(channel=request.user.channel, number=number)
        if order is None:
            return error_response(
                code="not_found", message=f"No order {number} for this channel.", status_code=404
            )
        return Response(OrderDetailOutput(order).data)
