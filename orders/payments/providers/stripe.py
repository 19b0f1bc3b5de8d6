"""Stripe, PaymentIntents API (docs.stripe.com/api): a payment authorised at checkout with
``capture_method=manual`` is captured with ``POST /v1/payment_intents/{id}/capture`` (``amount_to_capture``,
in cents, at most the amount capturable; status ``succeeded``), refunded with ``POST /v1/refunds``
(``payment_intent``, ``amount``; status ``pending``, ``succeeded``, ``failed``...). Form-encoded bodies, the
secret key as HTTP Basic user, an ``Idempotency-Key`` header on every POST. An authorisation nothing will be
captured from is cancelled with ``POST /v1/payment_intents/{id}/cancel`` (``cancellation_reason``; the
PaymentIntent answered with status ``canceled``, its ``amount_capturable`` released). A dearer exchange's
difference is charged off-session with the earlier payment's means: ``GET /v1/payment_intents/{id}`` gives
its ``customer`` and ``payment_method``, then ``POST /v1/payment_intents`` with ``confirm=true`` and
``off_session=true`` (status ``succeeded``, or ``processing``; a card that needs the customer answers 402
``authentication_required``). Errors: ``{"error": {"type",
"code", "message", "param"}}`` with 400/402/404/409; 429 and 5xx are retried."""

from decimal import Decimal

import httpx

from .base import TIMEOUT, ProviderError, ProviderResult, send

BASE_URL = "https://api.stripe.com"
CENTS = Decimal("100")


def _cents(amount: Decimal) -> int:
    return int((amount * CENTS).to_integral_value())


def _raise(response: httpx.Response) -> None:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    raise ProviderError(
        error.get("message") or f"Stripe answered {response.status_code}.",
        code=error.get("code") or error.get("type") or "",
        status=response.status_code,
    )


class StripeProvider:
    code = "stripe"

    def __init__(self, *, secret_key: str, base_url: str = BASE_URL):
        if not secret_key:
            raise ProviderError("STRIPE_SECRET_KEY is not set.", code="not_configured")
        self.secret_key = secret_key
        self.base_url = base_url

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, auth=(self.secret_key, ""), timeout=TIMEOUT)

    def capture(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        with self._client() as client:
            response = send(
                client,
                "POST",
                f"/v1/payment_intents/{payment_reference}/capture",
                data={"amount_to_capture": _cents(amount)},
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        body = response.json()
        return ProviderResult(
            reference=body["id"],
            status="succeeded" if body.get("status") == "succeeded" else "pending",
            amount=Decimal(body.get("amount_received", _cents(amount))) / CENTS,
        )

    def refund(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        with self._client() as client:
            response = send(
                client,
                "POST",
                "/v1/refunds",
                data={"payment_intent": payment_reference, "amount": _cents(amount)},
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        body = response.json()
        status = body.get("status")
        if status in ("failed", "canceled"):
            raise ProviderError(
                f"Stripe refund {body.get('id')} {status}: {body.get('failure_reason') or ''}".strip(),
                code=str(body.get("failure_reason") or status),
            )
        return ProviderResult(
            reference=body["id"],
            status="succeeded" if status == "succeeded" else "pending",
            amount=Decimal(body["amount"]) / CENTS,
        )

    def void(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        with self._client() as client:
            response = send(
                client,
                "POST",
                f"/v1/payment_intents/{payment_reference}/cancel",
                data={"cancellation_reason": "requested_by_customer"},
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        body = response.json()
        if body.get("status") != "canceled":
            raise ProviderError(
                f"Stripe PaymentIntent {body.get('id')} is {body.get('status')}, not canceled.",
                code=str(body.get("status") or ""),
            )
        return ProviderResult(reference=body["id"], status="succeeded", amount=amount)

    def charge(
        self, *, payment_reference, amount, currency, idempotency_key, description=""
    ) -> ProviderResult:
        with self._client() as client:
            earlier = send(client, "GET", f"/v1/payment_intents/{payment_reference}", on_error=_raise).json()
            payment_method = earlier.get("payment_method")
            if isinstance(payment_method, dict):
                payment_method = payment_method.get("id")
            if not payment_method or not earlier.get("customer"):
                raise ProviderError(
                    f"Stripe PaymentIntent {payment_reference} has no saved customer and payment method to "
                    "charge again.",
                    code="no_saved_payment_method",
                )
            customer = earlier["customer"]
            if isinstance(customer, dict):
                customer = customer.get("id")
            response = send(
                client,
                "POST",
                "/v1/payment_intents",
                data={
                    "amount": _cents(amount),
                    "currency": currency.lower(),
                    "customer": customer,
                    "payment_method": payment_method,
                    "confirm": "true",
                    "off_session": "true",
                    "description": description[:1000],
                },
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        body = response.json()
        status = body.get("status")
        if status not in ("succeeded", "processing"):
            raise ProviderError(f"Stripe PaymentIntent {body.get('id')} is {status}.", code=str(status or ""))
        return ProviderResult(
            reference=body["id"],
            status="succeeded" if status == "succeeded" else "pending",
            amount=Decimal(body.get("amount_received") or body.get("amount") or _cents(amount)) / CENTS,
        )
