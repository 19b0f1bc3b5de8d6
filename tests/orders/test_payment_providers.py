"""The Stripe and Mollie adapters against respx fixtures of their documented answers: the request they send
(path, body, idempotency key, auth), success, refusals with the provider's message, and what is retried
(429, 5xx, timeouts)."""

from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from orders.payments.providers import ProviderError, ProviderUnavailable
from orders.payments.providers.mollie import MollieProvider
from orders.payments.providers.stripe import StripeProvider

# docs.stripe.com/api/payment_intents/capture (trimmed)
STRIPE_CAPTURED = {
    "id": "pi_3MrPBM2eZvKYlo2C1TEMacFD",
    "object": "payment_intent",
    "amount": 4500,
    "amount_capturable": 0,
    "amount_received": 4500,
    "capture_method": "manual",
    "currency": "eur",
    "status": "succeeded",
}
# docs.stripe.com/api/refunds/object
STRIPE_REFUND = {
    "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
    "object": "refund",
    "amount": 2000,
    "currency": "eur",
    "payment_intent": "pi_3MrPBM2eZvKYlo2C1TEMacFD",
    "status": "succeeded",
}
STRIPE_ERROR = {
    "error": {
        "code": "payment_intent_unexpected_state",
        "message": "This PaymentIntent could not be captured because it has a status of canceled.",
        "type": "invalid_request_error",
    }
}
# docs.mollie.com/reference/create-capture, create-refund, error handling
MOLLIE_CAPTURE = {
    "resource": "capture",
    "id": "cpt_mNepDkEtco6ah3QNPUGYH",
    "mode": "live",
    "amount": {"value": "45.00", "currency": "EUR"},
    "status": "pending",
    "paymentId": "tr_WDqYK6vllg",
}
MOLLIE_REFUND = {
    "resource": "refund",
    "id": "re_4qqhO89gsT",
    "amount": {"currency": "EUR", "value": "20.00"},
    "status": "pending",
    "paymentId": "tr_WDqYK6vllg",
}
MOLLIE_ERROR = {
    "status": 422,
    "title": "Unprocessable Entity",
    "detail": "The amount is higher than the amount that can be refunded",
    "field": "amount",
}


@respx.mock
def test_stripe_capture_sends_cents_the_key_and_reads_the_intent():
    route = respx.post("https://api.stripe.com/v1/payment_intents/pi_1/capture").respond(
        200, json=STRIPE_CAPTURED
    )

    result = StripeProvider(secret_key="sk_test_x").capture(
        payment_reference="pi_1", amount=Decimal("45.00"), currency="EUR", idempotency_key="capture-7"
    )

    request = route.calls.last.request
    assert parse_qs(request.content.decode()) == {"amount_to_capture": ["4500"]}
    assert request.headers["Idempotency-Key"] == "capture-7"
    assert request.headers["Authorization"].startswith("Basic ")
    assert (result.reference, result.status, result.amount) == (
        "pi_3MrPBM2eZvKYlo2C1TEMacFD",
        "succeeded",
        Decimal("45"),
    )


@respx.mock
def test_stripe_refund_and_its_refusal():
    route = respx.post("https://api.stripe.com/v1/refunds").mock(
        side_effect=[httpx.Response(200, json=STRIPE_REFUND), httpx.Response(400, json=STRIPE_ERROR)]
    )
    stripe = StripeProvider(secret_key="sk_test_x")

    result = stripe.refund(
        payment_reference="pi_1", amount=Decimal("20.00"), currency="EUR", idempotency_key="r1"
    )
    with pytest.raises(ProviderError) as refused:
        stripe.refund(payment_reference="pi_1", amount=Decimal("20.00"), currency="EUR", idempotency_key="r2")

    assert parse_qs(route.calls[0].request.content.decode()) == {
        "payment_intent": ["pi_1"],
        "amount": ["2000"],
    }
    assert (result.reference, result.amount) == ("re_1Nispe2eZvKYlo2Cd31jOCgZ", Decimal("20"))
    assert refused.value.code == "payment_intent_unexpected_state"
    assert "status of canceled" in str(refused.value)


@respx.mock
@pytest.mark.parametrize(
    "answer", [httpx.Response(429, json={}), httpx.Response(503), httpx.TimeoutException("t")]
)
def test_stripe_rate_limit_server_errors_and_timeouts_are_retried(answer):
    route = respx.post("https://api.stripe.com/v1/refunds")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)

    with pytest.raises(ProviderUnavailable):
        StripeProvider(secret_key="sk_test_x").refund(
            payment_reference="pi_1", amount=Decimal("1"), currency="EUR", idempotency_key="k"
        )


@respx.mock
def test_mollie_capture_and_refund_send_amount_objects_and_the_key():
    capture = respx.post("https://api.mollie.com/v2/payments/tr_WDqYK6vllg/captures").respond(
        201, json=MOLLIE_CAPTURE
    )
    refund = respx.post("https://api.mollie.com/v2/payments/tr_WDqYK6vllg/refunds").respond(
        201, json=MOLLIE_REFUND
    )
    mollie = MollieProvider(api_key="test_abc")

    captured = mollie.capture(
        payment_reference="tr_WDqYK6vllg", amount=Decimal("45"), currency="EUR", idempotency_key="capture-7"
    )
    refunded = mollie.refund(
        payment_reference="tr_WDqYK6vllg",
        amount=Decimal("20"),
        currency="EUR",
        idempotency_key="refund-7-AV1",
    )

    assert capture.calls.last.request.headers["Authorization"] == "Bearer test_abc"
    assert capture.calls.last.request.headers["Idempotency-Key"] == "capture-7"
    assert capture.calls.last.request.read() == b'{"amount":{"currency":"EUR","value":"45.00"}}'
    assert refund.calls.last.request.read() == b'{"amount":{"currency":"EUR","value":"20.00"}}'
    assert (captured.reference, captured.status, captured.amount) == (
        "cpt_mNepDkEtco6ah3QNPUGYH",
        "pending",
        Decimal("45.00"),
    )
    assert (refunded.reference, refunded.amount) == ("re_4qqhO89gsT", Decimal("20.00"))


@respx.mock
def test_mollie_refusal_carries_its_detail_and_429_is_retried():
    route = respx.post("https://api.mollie.com/v2/payments/tr_1/refunds").mock(
        side_effect=[httpx.Response(422, json=MOLLIE_ERROR), httpx.Response(429, json={})]
    )
    mollie = MollieProvider(api_key="test_abc")

    with pytest.raises(ProviderError) as refused:
        mollie.refund(payment_reference="tr_1", amount=Decimal("999"), currency="EUR", idempotency_key="a")
    with pytest.raises(ProviderUnavailable):
        mollie.refund(payment_reference="tr_1", amount=Decimal("1"), currency="EUR", idempotency_key="b")

    assert str(refused.value) == "The amount is higher than the amount that can be refunded"
    assert (refused.value.code, refused.value.status, route.call_count) == ("amount", 422, 2)


def test_a_provider_without_its_key_refuses_to_start():
    with pytest.raises(ProviderError):
        StripeProvider(secret_key="")
    with pytest.raises(ProviderError):
        MollieProvider(api_key="")
