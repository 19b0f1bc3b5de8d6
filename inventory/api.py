"""REST API of the inventory app: locations, products, stock, movements, incoming stock.
One view per operation, nested input / output serializers (HackSoft style); services do the work."""

from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import PAGE_PARAMETER, HasScope, error_response, error_responses, paginated

from . import services
from .exceptions import InvalidQuantity
from .models import IncomingStock, KitComponent, Location, Product, StockMovement
from .selectors import incoming_search, kit_stock_by_location, stock_for_product


class LocationOutput(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["code", "name", "kind", "city", "postcode"]


class LocationListApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ()

    @extend_schema(
        operation_id="locations_list",
        parameters=[PAGE_PARAMETER],
        responses={200: paginated(LocationOutput, "PaginatedLocationList"), **error_responses(403, 404)},
    )
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            Location.objects.filter(active=True).order_by("code"), request, view=self
        )
        return paginator.get_paginated_response(LocationOutput(page, many=True).data)


VAT_RATES = [c[0] for c in Product._meta.get_field("vat_rate").choices]


class KitComponentOutput(serializers.Serializer):
    sku = serializers.CharField(source="component.sku")
    name = serializers.CharField(source="component.name")
    quantity = serializers.IntegerField(help_text="Units of this component in one kit.")


class ProductOutput(serializers.ModelSerializer):
    vat_rate = serializers.DecimalField(max_digits=3, decimal_places=1)
    is_kit = serializers.BooleanField(
        read_only=True, help_text="A kit (bundle): sold as one SKU, made of the components below."
    )
    components = KitComponentOutput(
        many=True, read_only=True, help_text="What one kit is made of; empty for a plain product."
    )

    class Meta:
        model = Product
        fields = ["sku", "name", "ean", "weight_g", "price", "vat_rate", "is_kit", "components"]


class KitLocationOutput(serializers.Serializer):
    location = serializers.CharField(source="location.code")
    available = serializers.IntegerField(help_text="Kits the free units of the components make here.")
    limited_by = serializers.CharField(
        source="limiting.sku", allow_null=True, help_text="The component that limits the kits here."
    )


class ProductDetailOutput(ProductOutput):
    kit_availability = serializers.SerializerMethodField(
        help_text="For a kit: per active location, how many kits its components' free units make "
        "(a kit ships whole from one location). Null for a plain product: see /api/v1/stock/."
    )

    class Meta(ProductOutput.Meta):
        fields = [*ProductOutput.Meta.fields, "kit_availability"]

    @extend_schema_field(KitLocationOutput(many=True, allow_null=True))
    def get_kit_availability(self, product):
        if not product.is_kit:
            return None
        return KitLocationOutput(kit_stock_by_location(kit=product), many=True).data


class ProductCreateApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("catalog",)

    class ProductCreateInput(serializers.Serializer):
        sku = serializers.RegexField(r"^[A-Za-z0-9._\-/]+$", max_length=64)
        name = serializers.CharField(max_length=200)
        ean = serializers.CharField(max_length=13, required=False, allow_blank=True, default="")
        weight_g = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
        price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))
        vat_rate = serializers.ChoiceField(choices=["20.0", "10.0", "5.5", "2.1", "20", "10"])

        def validate_ean(self, value):
            from django.core.exceptions import ValidationError

            from .models import validate_ean13

            try:
                validate_ean13(value)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
            return value

    @extend_schema(
        operation_id="products_create",
        request=ProductCreateInput,
        examples=[
            OpenApiExample(
                "A mug",
                request_only=True,
                value={
                    "sku": "MUG-BLEU",
                    "name": "Mug bleu",
                    "ean": "3760123456784",
                    "weight_g": 350,
                    "price": "12.50",
                    "vat_rate": "20.0",
                },
            )
        ],
        responses={201: ProductOutput, **error_responses(403, 409, 422)},
    )
    def post(self, request):
        serializer = self.ProductCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["vat_rate"] = Decimal(data["vat_rate"]).quantize(Decimal("0.1"))
        if Product.objects.filter(sku=data["sku"]).exists():
            return error_response(
                code="duplicate_sku",
                message=f"A product with SKU {data['sku']} exists.",
                status_code=status.HTTP_409_CONFLICT,
                details={"sku": data["sku"]},
            )
        if data["ean"] and Product.objects.filter(ean=data["ean"]).exists():
            return error_response(
                code="duplicate_ean",
                message=f"Another product has EAN {data['ean']}.",
                status_code=status.HTTP_409_CONFLICT,
                details={"ean": data["ean"]},
            )
        try:
            product = services.product_create(data=data)
        except IntegrityError:
            return error_response(
                code="duplicate_sku",
                message="This SKU or EAN was just created by another request.",
                status_code=status.HTTP_409_CONFLICT,
                details={"sku": data["sku"]},
            )
        return Response(ProductOutput(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="products_list",
        parameters=[PAGE_PARAMETER],
        responses={200: paginated(ProductOutput, "PaginatedProductList"), **error_responses(403, 404)},
    )
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            Product.objects.filter(active=True)
            .prefetch_related(Prefetch("components", KitComponent.objects.select_related("component")))
            .order_by("sku"),
            request,
            view=self,
        )
        return paginator.get_paginated_response(ProductOutput(page, many=True).data)


class ProductDetailApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("catalog",)

    @extend_schema(
        operation_id="products_retrieve",
        parameters=[
            OpenApiParameter(
                "sku",
                str,
                OpenApiParameter.PATH,
                description="The product's SKU (it may hold a slash).",
                examples=[OpenApiExample("A T-shirt", value="TSHIRT-M")],
            )
        ],
        responses={200: ProductDetailOutput, **error_responses(403, 404)},
    )
    def get(self, request, sku):
        product = get_object_or_404(
            Product.objects.prefetch_related(
                Prefetch("components", KitComponent.objects.select_related("component"))
            ),
            sku=sku,
        )
        return Response(ProductDetailOutput(product).data)


class StockLocationOutput(serializers.Serializer):
    location = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    bin = serializers.CharField(allow_blank=True)


class IncomingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.CharField()
    quantity = serializers.IntegerField()
    reserved = serializers.IntegerField()
    expected_on = serializers.DateField()


class StockOutput(serializers.Serializer):
    sku = serializers.CharField()
    locations = StockLocationOutput(many=True)
    incoming = IncomingOutput(many=True)


def _incoming_row(incoming: IncomingStock) -> dict:
    return {
        "id": incoming.pk,
        "location": incoming.location.code,
        "quantity": incoming.quantity,
        "reserved": incoming.reserved,
        "expected_on": incoming.expected_on,
    }


class StockApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("stock",)

    @extend_schema(
        operation_id="stock_retrieve",
        parameters=[
            OpenApiParameter(
                "sku",
                str,
                required=True,
                description="The product's SKU.",
                examples=[OpenApiExample("A T-shirt", value="TSHIRT-M")],
            )
        ],
        responses={200: StockOutput, **error_responses(403, 404, 422)},
    )
    def get(self, request):
        sku = request.query_params.get("sku", "").strip()
        if not sku:
            return error_response(
                code="validation_error",
                message="The sku parameter is required.",
                status_code=422,
                details={"sku": ["This parameter is required."]},
            )
        product = get_object_or_404(Product, sku=sku)
        levels, incoming = stock_for_product(product=product)
        body = {
            "sku": product.sku,
            "locations": [
                {
                    "location": lv.location.code,
                    "on_hand": lv.on_hand,
                    "reserved": lv.reserved,
                    "available": lv.on_hand - lv.reserved,
                    "bin": lv.bin_code,
                }
                for lv in levels
            ],
            "incoming": [_incoming_row(i) for i in incoming],
        }
        return Response(StockOutput(body).data)


def _lookup(
    *, sku: str, location: str, field: str = "location"
) -> tuple[Product | None, Location | None, Response | None]:
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        return (
            None,
            None,
            error_response(
                code="unknown_sku", message=f"Unknown SKU {sku!r}.", status_code=422, details={"sku": sku}
            ),
        )
    loc = Location.objects.filter(code=location, active=True).first()
    if loc is None:
        return (
            None,
            None,
            error_response(
                code="unknown_location",
                message=f"Unknown location {location!r}.",
                status_code=422,
                details={field: location},
            ),
        )
    return product, loc, None


MOVEMENT_REASONS = ["receipt", "adjustment", "transfer_out"]


class MovementOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    location = serializers.CharField()
    quantity = serializers.IntegerField()
    reason = serializers.CharField()
    reason_code = serializers.CharField(allow_blank=True)
    on_hand_after = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    transfer = IncomingOutput(required=False)


class StockMovementCreateApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("stock",)

    class StockMovementInput(serializers.Serializer):
        sku = serializers.CharField(max_length=64)
        location = serializers.CharField(max_length=32)
        quantity = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000)
        reason = serializers.ChoiceField(choices=MOVEMENT_REASONS)
        reason_code = serializers.ChoiceField(
            choices=StockMovement.AdjustmentCode.values,
            required=False,
            default=StockMovement.AdjustmentCode.OTHER,
        )
        reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
        to_location = serializers.CharField(max_length=32, required=False)
        expected_on = serializers.DateField(required=False)

        def validate(self, attrs):
            reason, quantity = attrs["reason"], attrs["quantity"]
            if reason in ("receipt", "transfer_out") and quantity <= 0:
                raise serializers.ValidationError(
                    {"quantity": ["Must be greater than zero for this reason."]}
                )
            if reason == "adjustment" and quantity == 0:
                raise serializers.ValidationError({"quantity": ["An adjustment cannot be zero."]})
            if reason == "transfer_out" and not attrs.get("to_location"):
                raise serializers.ValidationError({"to_location": ["Required for a transfer."]})
            return attrs

    @extend_schema(
        operation_id="stock_movements_create",
        request=StockMovementInput,
        examples=[
            OpenApiExample(
                "Goods received",
                request_only=True,
                value={"sku": "TSHIRT-M", "location": "lyon", "quantity": 24, "reason": "receipt"},
            ),
            OpenApiExample(
                "Damaged units",
                request_only=True,
                value={
                    "sku": "TSHIRT-M",
                    "location": "lyon",
                    "quantity": -2,
                    "reason": "adjustment",
                    "reason_code": "damaged",
                },
            ),
            OpenApiExample(
                "Transfer to a store",
                request_only=True,
                value={
                    "sku": "TSHIRT-M",
                    "location": "lyon",
                    "quantity": 3,
                    "reason": "transfer_out",
                    "to_location": "paris",
                },
            ),
        ],
        responses={201: MovementOutput, **error_responses(403, 409, 422)},
    )
    def post(self, request):
        serializer = self.StockMovementInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        product, location, error = _lookup(sku=data["sku"], location=data["location"])
        if error:
            return error
        actor_ref = data["reference"]
        transfer = None
        if data["reason"] == "receipt":
            movement = services.stock_receive(
                product=product, location=location, quantity=data["quantity"], reference=actor_ref
            )
        elif data["reason"] == "adjustment":
            movement = services.stock_adjust(
                product=product,
                location=location,
                delta=data["quantity"],
                reason_code=data["reason_code"],
                note=data["note"],
                reference=actor_ref,
            )
        else:
            _, to_location, error = _lookup(
                sku=data["sku"], location=data["to_location"], field="to_location"
            )
            if error:
                return error
            if to_location.pk == location.pk:
                raise InvalidQuantity("A transfer goes to another location.", code="same_location")
            transfer = services.stock_transfer(
                product=product,
                from_location=location,
                to_location=to_location,
                quantity=data["quantity"],
                expected_on=data.get("expected_on") or timezone.localdate() + timedelta(days=2),
                reference=actor_ref,
            )
            movement = (
                StockMovement.objects.filter(product=product, location=location).order_by("-pk").first()
            )
        body = {
            "id": movement.pk,
            "sku": product.sku,
            "location": location.code,
            "quantity": movement.delta,
            "reason": movement.reason,
            "reason_code": movement.reason_code,
            "on_hand_after": movement.on_hand_after,
            "created_at": movement.created_at,
        }
        if transfer is not None:
            transfer.location = to_location
            body["transfer"] = _incoming_row(transfer)
        return Response(MovementOutput(body).data, status=status.HTTP_201_CREATED)


class IncomingStockOutput(serializers.Serializer):
    """A replenishment on its way to a location (a purchase order, or a transfer from another location)."""

    id = serializers.IntegerField()
    sku = serializers.CharField()
    location = serializers.CharField(help_text="Where it is expected (a location code).")
    kind = serializers.ChoiceField(choices=IncomingStock.Kind.values)
    from_location = serializers.CharField(
        allow_null=True, help_text="The location a transfer comes from; null for a purchase order."
    )
    reference = serializers.CharField(allow_blank=True)
    expected_on = serializers.DateField()
    status = serializers.ChoiceField(
        choices=IncomingStock.Status.values,
        help_text="open: units still expected; received: everything arrived; cancelled: will not come.",
    )
    quantity = serializers.IntegerField(help_text="Units still expected.")
    received = serializers.IntegerField(help_text="Units received so far.")
    reserved = serializers.IntegerField(
        help_text="Units still expected that are promised to pre-orders (served first when they arrive)."
    )
    free = serializers.IntegerField(help_text="Units still expected that nobody has pre-ordered.")
    received_at = serializers.DateTimeField(allow_null=True, help_text="When units last arrived.")


def incoming_stock_row(incoming: IncomingStock) -> dict:
    """A replenishment as the API shows it (its product and locations loaded)."""
    return {
        "id": incoming.pk,
        "sku": incoming.product.sku,
        "location": incoming.location.code,
        "kind": incoming.kind,
        "from_location": incoming.from_location.code if incoming.from_location_id else None,
        "reference": incoming.reference,
        "expected_on": incoming.expected_on,
        "status": incoming.status,
        "quantity": incoming.quantity,
        "received": incoming.received,
        "reserved": incoming.reserved,
        "free": incoming.quantity - incoming.reserved,
        "received_at": incoming.received_at,
    }


INCOMING_STATUSES = [*IncomingStock.Status.values, "all"]


class IncomingCreateApi(APIView):
    """``/stock/incoming/``: list the replenishments on their way (GET), announce one (POST)."""

    permission_classes = [HasScope]
    required_scopes = ("stock",)

    class IncomingFilter(serializers.Serializer):
        sku = serializers.CharField(max_length=64, required=False)
        location = serializers.CharField(max_length=32, required=False)
        status = serializers.ChoiceField(choices=INCOMING_STATUSES, required=False, default="open")

    @extend_schema(
        operation_id="stock_incoming_list",
        summary="List incoming replenishments",
        description=(
            "The replenishments (purchase orders and transfers) of a SKU or a location, soonest expected "
            "first: what is still expected, what was received, and what pre-orders hold. Receive one with "
            "`POST /stock/incoming/{id}/receive/`, or report the goods as a `receipt` movement at its "
            "location: either way the pre-orders waiting on it are allocated in order of arrival."
        ),
        parameters=[
            OpenApiParameter("sku", str, description="Only this SKU's replenishments."),
            OpenApiParameter("location", str, description="Only those expected at this location (a code)."),
            OpenApiParameter(
                "status",
                str,
                enum=INCOMING_STATUSES,
                default="open",
                description="open (default): still expected; received; cancelled; all.",
            ),
            PAGE_PARAMETER,
        ],
        responses={
            200: paginated(IncomingStockOutput, "PaginatedIncomingStockList"),
            **error_responses(403, 404, 422),
        },
    )
    def get(self, request):
        filters = self.IncomingFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        product = location = None
        if "sku" in data:
            product = Product.objects.filter(sku=data["sku"]).first()
            if product is None:
                return error_response(
                    code="unknown_sku",
                    message=f"Unknown SKU {data['sku']!r}.",
                    status_code=422,
                    details={"sku": data["sku"]},
                )
        if "location" in data:
            location = Location.objects.filter(code=data["location"]).first()
            if location is None:
                return error_response(
                    code="unknown_location",
                    message=f"Unknown location {data['location']!r}.",
                    status_code=422,
                    details={"location": data["location"]},
                )
        queryset = incoming_search(
            product=product, location=location, status=None if data["status"] == "all" else data["status"]
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(
            IncomingStockOutput([incoming_stock_row(i) for i in page], many=True).data
        )

    class IncomingInput(serializers.Serializer):
        sku = serializers.CharField(max_length=64)
        location = serializers.CharField(max_length=32)
        quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
        expected_on = serializers.DateField()
        reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

        def validate_expected_on(self, value):
            if value < timezone.localdate():
                raise serializers.ValidationError("The expected date cannot be in the past.")
            return value

    @extend_schema(
        operation_id="stock_incoming_create",
        request=IncomingInput,
        examples=[
            OpenApiExample(
                "A purchase order on its way",
                request_only=True,
                value={"sku": "POSTER", "location": "lyon", "quantity": 50, "expected_on": "2027-03-02"},
            )
        ],
        responses={201: IncomingOutput, **error_responses(403, 422)},
    )
    def post(self, request):
        serializer = self.IncomingInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        product, location, error = _lookup(sku=data["sku"], location=data["location"])
        if error:
            return error
        incoming = services.incoming_create(
            product=product,
            location=location,
            quantity=data["quantity"],
            expected_on=data["expected_on"],
            reference=data["reference"],
        )
        return Response(IncomingOutput(_incoming_row(incoming)).data, status=status.HTTP_201_CREATED)
