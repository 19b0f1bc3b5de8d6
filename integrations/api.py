"""REST API of the outbound webhooks: ``/api/v1/webhooks/`` (list, create) and ``/api/v1/webhooks/{id}/``
(read, delete). An endpoint registered with a channel's API key belongs to that channel: only its keys see
it, and it hears about that channel's orders and customers (and stock availability)."""

import re

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import PAGE_PARAMETER, HasScope, error_response, error_responses, paginated
from orders.services.idempotency import (
    Replay,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)

from .models import WebhookEndpoint
from .webhooks import catalogue
from .webhooks.services import endpoint_create, endpoint_delete

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class WebhookOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=catalogue.EVENT_NAMES))
    # A plain string in the schema: an enum named "status" would rename the orders' StatusEnum.
    status = serializers.CharField(
        help_text="`active`, or `disabled` (after repeated failures, a 410 Gone, or by a manager)."
    )
    disabled_reason = serializers.CharField(help_text="Why deliveries stopped (empty while active).")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "status", "disabled_reason", "created_at"]


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(
        help_text="The signing secret: the one sent, or the one generated. Shown in this answer only."
    )

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]


class WebhookCreateInput(serializers.Serializer):
    url = serializers.URLField(
        max_length=500,
        help_text="http(s) URL on a public address (private, loopback and link-local addresses are refused).",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=catalogue.EVENT_NAMES), min_length=1, max_length=50
    )
    secret = serializers.CharField(
        min_length=16,
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Signing secret (at least 16 characters); generated and returned when left out.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _key_error():
    return error_response(
        code="validation_error",
        message="Idempotency-Key is at most 255 printable ASCII characters.",
        status_code=422,
        details={"Idempotency-Key": ["At most 255 printable ASCII characters (a UUID v4)."]},
    )


class WebhookListCreateApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("orders",)

    @extend_schema(
        operation_id="webhooks_list",
        parameters=[PAGE_PARAMETER],
        responses={200: paginated(WebhookOutput, "PaginatedWebhookList"), **error_responses(403, 404)},
    )
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            WebhookEndpoint.objects.filter(channel=request.user.channel).order_by("pk"), request, view=self
        )
        return paginator.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookCreateInput,
        description=(
            "Register an endpoint. Each delivery is a POST of the JSON payload `{id, type, version, "
            "created_at, event_id, data}` with the headers `OMS-Signature: t=<unix time>,v1=<hex "
            'HMAC-SHA256 of "<t>.<raw body>" under the secret>`, `OMS-Delivery-Id` (same at every retry: '
            "deduplicate on it) and `OMS-Event`. Answer 2xx within 10 s; anything else is retried with "
            "exponential backoff for about 34 hours; 410 Gone disables the endpoint at once."
        ),
        examples=[
            OpenApiExample(
                "Orders to a CRM",
                request_only=True,
                value={
                    "url": "https://crm.example.com/oms-hook",
                    "events": ["order.created", "order.status_changed", "order.cancelled"],
                    "secret": "a-long-random-secret-of-yours",
                },
            )
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
        responses={201: WebhookCreatedOutput, **error_responses(403, 409, 422)},
    )
    def post(self, request):
        channel = request.user.channel
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255 or not _PRINTABLE_ASCII.fullmatch(key):
            return _key_error()
        serializer = WebhookCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)  # invalid requests store nothing under the key
        claim = None
        if key:
            fingerprint = request_fingerprint({"endpoint": "webhooks_create", "body": request.data})
            claim = idempotency_claim(channel=channel, key=key, fingerprint=fingerprint)
            if isinstance(claim, Replay):
                return Response(claim.body, status=claim.status, headers={"Idempotent-Replayed": "true"})
        data = serializer.validated_data
        try:
            with transaction.atomic():
                endpoint = endpoint_create(
                    url=data["url"],
                    events=data["events"],
                    secret=data.get("secret") or "",
                    description=data.get("description", ""),
                    channel=channel,
                )
                body = dict(WebhookCreatedOutput(endpoint).data)
                if claim is not None:
                    idempotency_complete(claim=claim, status=201, body=body)
        except Exception:
            if claim is not None:
                idempotency_release(claim=claim)
            raise
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    permission_classes = [HasScope]
    required_scopes = ("orders",)

    def _get(self, request, pk):
        return WebhookEndpoint.objects.filter(channel=request.user.channel, pk=pk).first()

    @extend_schema(
        operation_id="webhooks_retrieve", responses={200: WebhookOutput, **error_responses(403, 404)}
    )
    def get(self, request, pk: int):
        endpoint = self._get(request, pk)
        if endpoint is None:
            return error_response(
                code="not_found", message=f"No webhook {pk} for this channel.", status_code=404
            )
        return Response(WebhookOutput(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: None, **error_responses(403, 404)})
    def delete(self, request, pk: int):
        endpoint = self._get(request, pk)
        if endpoint is None:
            return error_response(
                code="not_found", message=f"No webhook {pk} for this channel.", status_code=404
            )
        endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)
