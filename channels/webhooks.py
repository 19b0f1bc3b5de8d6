"""Webhook endpoints of Shopify and WooCommerce: verify the signature in constant time, store the delivery
once, answer 200 at once; the order is processed by a task (``delivery_process``)."""

import base64
import hashlib
import hmac
import json

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from orders.models import Channel

from . import shopify, woocommerce
from .selectors import webhook_signer
from .services import delivery_receive

KEPT_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-Api-Version",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
    "X-WC-Webhook-Source",
)


def signature_valid(*, body: bytes, secret: str, signature: str) -> bool:
    """base64(HMAC-SHA256(raw body, secret)), compared in constant time."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def _refused(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


def _signed_channel(code: str, kind: str, *, body: bytes, signature: str) -> tuple[int | None, bool]:
    """(channel id or None when there is no such active channel, whether the signature is its secret's).
    The channel and its secret come from ``webhook_signer``, kept in the process for a few seconds: a
    signature the kept secret does not verify is checked again against a fresh read (a rotated secret
    takes effect at once)."""
    signer = webhook_signer(code=code, kind=kind)
    if signer is None:
        return None, False
    if signature_valid(body=body, secret=signer[1], signature=signature):
        return signer[0], True
    signer = webhook_signer(code=code, kind=kind, fresh=True)
    if signer is None:
        return None, False
    return signer[0], signature_valid(body=body, secret=signer[1], signature=signature)


def _answer(delivery, new: bool) -> JsonResponse:
    return JsonResponse({"received": True, "duplicate": not new, "delivery": delivery.pk}, status=200)


@method_decorator(csrf_exempt, name="dispatch")
class ShopifyWebhookView(View):
    http_method_names = ["post"]

    def post(self, request, code):
        body = request.body
        channel_id, signed = _signed_channel(
            code, Channel.Kind.SHOPIFY, body=body, signature=request.headers.get("X-Shopify-Hmac-Sha256", "")
        )
        if channel_id is None:
            return _refused("not_found", "No active Shopify channel with this code.", 404)
        if not signed:
            return _refused("invalid_signature", "The X-Shopify-Hmac-Sha256 signature does not match.", 401)
        topic = request.headers.get("X-Shopify-Topic", "")
        webhook_id = request.headers.get("X-Shopify-Webhook-Id", "")
        if not webhook_id:
            return _refused("validation_error", "X-Shopify-Webhook-Id is missing.", 400)
        if topic not in shopify.TOPICS:
            return JsonResponse({"received": True, "ignored": f"topic {topic!r} is not used"}, status=200)
        delivery, new = delivery_receive(
            channel_id=channel_id,
            delivery_id=webhook_id,
            topic=topic,
            body=body,
            headers={h: request.headers[h] for h in KEPT_HEADERS if h in request.headers},
        )
        return _answer(delivery, new)


@method_decorator(csrf_exempt, name="dispatch")
class WooCommerceWebhookView(View):
    http_method_names = ["post"]

    def post(self, request, code):
        body = request.body
        signature = request.headers.get("X-WC-Webhook-Signature", "")
        if not signature and body.startswith(b"webhook_id="):
            # The ping WooCommerce sends when a webhook is saved: unsigned, form-encoded. Nothing to store.
            if webhook_signer(code=code, kind=Channel.Kind.WOOCOMMERCE) is None:
                return _refused("not_found", "No active WooCommerce channel with this code.", 404)
            return HttpResponse("ok", status=200)
        channel_id, signed = _signed_channel(code, Channel.Kind.WOOCOMMERCE, body=body, signature=signature)
        if channel_id is None:
            return _refused("not_found", "No active WooCommerce channel with this code.", 404)
        if not signed:
            return _refused("invalid_signature", "The X-WC-Webhook-Signature signature does not match.", 401)
        topic = request.headers.get("X-WC-Webhook-Topic", "")
        if topic not in woocommerce.TOPICS:
            return JsonResponse({"received": True, "ignored": f"topic {topic!r} is not used"}, status=200)
        # WooCommerce's delivery id changes when it retries; the order's id and modification time name
        # one version of the order, so a retry of the same version is recognised as a duplicate.
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            payload = {}
        modified = payload.get("date_modified_gmt") if isinstance(payload, dict) else None
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("id"), int | str)
            and isinstance(modified, str)
        ):
            delivery_id = f"{topic}:{payload['id']}:{modified}"
        else:
            delivery_id = request.headers.get("X-WC-Webhook-Delivery-ID", "")
        if not delivery_id:
            return _refused("validation_error", "X-WC-Webhook-Delivery-ID is missing.", 400)
        delivery, new = delivery_receive(
            channel_id=channel_id,
            delivery_id=delivery_id,
            topic=topic,
            body=body,
            headers={h: request.headers[h] for h in KEPT_HEADERS if h in request.headers},
        )
        return _answer(delivery, new)
