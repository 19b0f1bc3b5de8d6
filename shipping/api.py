"""REST API of the shipping app: relay points near a postcode, from the local directory (no carrier call)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
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

from . import geo
from .models import Carrier
from .selectors import relay_point_search

MAX_RELAY_RESULTS = 50


class RelayPointOutput(serializers.Serializer):
    carrier = serializers.CharField(
        help_text="The carrier's code (use it in an order's relay_point.carrier)."
    )
    id = serializers.CharField(help_text="The carrier's id of the point (an order's relay_point.id).")
    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField(allow_blank=True)
    postcode = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    distance_km = serializers.DecimalField(
        max_digits=7, decimal_places=1, help_text="From the postcode's area (its département's centre)."
    )
    opening_hours = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.CharField())),
        help_text='Per ISO weekday (1 = Monday … 7 = Sunday), the opening intervals: {"1": [["09:00", '
        '"12:30"], ["14:00", "19:00"]]}. A day not listed is closed.',
    )


class RelayPointListOutput(serializers.Serializer):
    results = RelayPointOutput(many=True)


class RelayPointQuery(serializers.Serializer):
    postcode = serializers.CharField(max_length=16)
    country = serializers.CharField(max_length=2, required=False, default="FR")
    carrier = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_RELAY_RESULTS, required=False, default=10)

    def validate(self, attrs):
        return address_validate(attrs)


def relay_point_row(point) -> dict:
    return {
        "carrier": point.carrier.code,
        "id": point.external_id,
        "name": point.name,
        "line1": point.line1,
        "line2": point.line2,
        "postcode": point.postcode,
        "city": point.city,
        "country": point.country,
        "latitude": point.latitude,
        "longitude": point.longitude,
        "distance_km": f"{point.distance_km:.1f}",
        "opening_hours": point.opening_hours,
    }


class RelayPointListApi(APIView):
    """The relay points nearest to a postcode, nearest first: what a checkout's relay picker lists."""

    permission_classes = [HasScope]
    required_scopes = ()

    @extend_schema(
        operation_id="relay_points_list",
        parameters=[
            OpenApiParameter(
                "postcode",
                str,
                required=True,
                description=f"Destination postcode. {POSTCODE_HELP}",
                examples=[OpenApiExample("Lyon 3e", value="69003")],
            ),
            OpenApiParameter("country", str, description=f"{COUNTRY_HELP} Default FR."),
            OpenApiParameter(
                "carrier",
                str,
                description="Only this carrier's points: its code (e.g. mondial-relay) or adapter "
                "(mondial_relay). Default: every carrier.",
            ),
            OpenApiParameter(
                "limit", int, description=f"How many points (1 to {MAX_RELAY_RESULTS}, default 10)."
            ),
        ],
        responses={200: RelayPointListOutput, **error_responses(403, 422)},
        examples=[
            OpenApiExample(
                "A relay point in Lyon",
                response_only=True,
                value={
                    "results": [
                        {
                            "carrier": "mondial-relay",
                            "id": "SBX-69003",
                            "name": "Supérette Part-Dieu",
                            "line1": "61 rue Paul Bert",
                            "line2": "",
                            "postcode": "69003",
                            "city": "Lyon",
                            "country": "FR",
                            "latitude": "45.757500",
                            "longitude": "4.854400",
                            "distance_km": "1.6",
                            "opening_hours": {"1": [["08:30", "21:00"]], "7": [["09:00", "13:00"]]},
                        }
                    ]
                },
            )
        ],
    )
    def get(self, request):
        query = RelayPointQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        postcode, country = data["postcode"].strip(), data["country"].upper()
        if country == "FR" and geo.departement_of(postcode) is None:
            return error_response(
                code="validation_error",
                message="The request has invalid fields.",
                status_code=422,
                details={"postcode": ["A French postcode has five digits."]},
            )
        carrier = data["carrier"].strip()
        if carrier and not Carrier.objects.filter(active=True).filter(code=carrier).exists():
            if not Carrier.objects.filter(active=True, adapter=carrier).exists():
                return error_response(
                    code="unknown_carrier",
                    message=f"No active carrier {carrier!r}.",
                    status_code=422,
                    details={"carrier": [f"No active carrier {carrier!r}."]},
                )
        points = relay_point_search(
            postcode=postcode,
            country=country,
            carrier=carrier,
            limit=data["limit"],
        )
        return Response(RelayPointListOutput({"results": [relay_point_row(p) for p in points]}).data)
