"""Voiding an authorisation and charging a supplement, against respx fixtures of Stripe's and Mollie's
documented answers and errors: the request sent (path, body, idempotency key), success, refusals with the
provider's message, and what is retried."""

import json
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from orders.payments.providers import ProviderError, ProviderUnavailable
from orders.payments.providers.mollie import MollieProvider
from orders.payments.providers.stripe import StripeProvider

# docs.stripe.com/api/payment_intents/cancel (trimmed)
STRIPE_CANCELED = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "object": "payment_intent",
    "amount": 5300,
    "amount_capturable": 0,
    "amount_received": 0,
    "canceled_at": 1680801569,
    "cancellation_reason": "requested_by_customer",
    "capture_method": "manual",
    "currency": "eur",
    "status": "canceled",
}
STRIPE_CANCEL_REFUSED = {
    "error": {
        "code": "payment_intent_unexpected_state",
        "message": "You cannot cancel this PaymentIntent because it has a status of succeeded.",
        "type": "invalid_request_error",
    }
}
# docs.stripe.com/api/payment_intents/retrieve and create (trimmed)
STRIPE_EARLIER = {
    "id": "pi_earlier",
    "object": "payment_intent",
    "amount": 1990,
    "customer": "cus_NffrFeUfNV2Hib",
    "payment_method": "pm_1MqLiJLkdIwHu7ixUEgbFdYF",
    "status": "succeeded",
}
STRIPE_CHARGED = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqXb",
    "object": "payment_intent",
    "amount": 500,
    "amount_received": 500,
    "currency": "eur",
    "customer": "cus_NffrFeUfNV2Hib",
    "status": "succeeded",
}
STRIPE_AUTHENTICATION_REQUIRED = {
    "error": {
        "code": "authentication_required",
        "decline_code": "authentication_required",
        "message": "Your card was declined. This transaction requires authentication.",
        "type": "card_error",
    }
}
# docs.mollie.com/reference/get-payment, create-payment (recurring), error handling
MOLLIE_EARLIER = {
    "resource": "payment",
    "id": "tr_WDqYK6vllg",
    "amount": {"value": "19.90", "currency": "EUR"},
    "status": "paid",
    "sequenceType": "first",
    "customerId": "cst_8wmqcHMN4U",
    "mandateId": "mdt_h3gAaD5zP",
}
MOLLIE_RECURRING = {
    "resource": "payment",
    "id": "tr_7UhSN1zuXS",
    "amount": {"value": "5.00", "currency": "EUR"},
    "status": "paid",
    "sequenceType": "recurring",
    "customerId": "cst_8wmqcHMN4U",
    "mandateId": "mdt_h3gAaD5zP",
}
MOLLIE_NO_MANDATE = {
    "status": 422,
    "title": "Unprocessable Entity",
    "detail": "The customer does not have a suitable mandate",
    "field": "customerId",
}
MOLLIE_NOT_AUTHORISED = {
    "status": 422,
    "title": "Unprocessable Entity",
    "detail": "The payment authorization cannot be released",
}


@respx.mock
def test_stripe_void_cancels_the_payment_intent_with_the_key():
    route = respx.post("https://api.stripe.com/v1/payment_intents/pi_1/cancel").respond(
        200, json=STRIPE_CANCELED
    )

    result = StripeProvider(secret_key="sk_test_x").void(
        payment_reference="pi_1", amount=Decimal("53.00"), currency="EUR", idempotency_key="void-7"
    )

    request = route.calls.last.request
    assert parse_qs(request.content.decode()) == {"cancellation_reason": ["requested_by_customer"]}
    assert request.headers["Idempotency-Key"] == "void-7"
    assert (result.reference, result.status, result.amount) == (
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "succeeded",
        Decimal("53.00"),
    )


@respx.mock
def test_stripe_void_of_a_captured_intent_is_refused_and_5xx_retried():
    respx.post("https://api.stripe.com/v1/payment_intents/pi_1/cancel").mock(
        side_effect=[httpx.Response(400, json=STRIPE_CANCEL_REFUSED), httpx.Response(502)]
    )
    stripe = StripeProvider(secret_key="sk_test_x")

    with pytest.raises(ProviderError) as refused:
        stripe.void(payment_reference="pi_1", amount=Decimal("1"), currency="EUR", idempotency_key="v")
    with pytest.raises(ProviderUnavailable):
        stripe.void(payment_reference="pi_1", amount=Decimal("1"), currency="EUR", idempotency_key="v")

    assert refused.value.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(refused.value)


@respx.mock
def test_stripe_charge_reuses_the_earlier_customer_and_payment_method_off_session():
    earlier = respx.get("https://api.stripe.com/v1/payment_intents/pi_earlier").respond(
        200, json=STRIPE_EARLIER
    )
    create = respx.post("https://api.stripe.com/v1/payment_intents").respond(200, json=STRIPE_CHARGED)

    result = StripeProvider(secret_key="sk_test_x").charge(
        payment_reference="pi_earlier",
        amount=Decimal("5.00"),
        currency="EUR",
        idempotency_key="charge-9-RET-1",
        description="CMD-000009",
    )

    assert earlier.called
    request = create.calls.last.request
    assert parse_qs(request.content.decode()) == {
        "amount": ["500"],
        "currency": ["eur"],
        "customer": ["cus_NffrFeUfNV2Hib"],
        "payment_method": ["pm_1MqLiJLkdIwHu7ixUEgbFdYF"],
        "confirm": ["true"],
        "off_session": ["true"],
        "description": ["CMD-000009"],
    }
    assert request.headers["Idempotency-Key"] == "charge-9-RET-1"
    assert (result.reference, result.status, result.amount) == (
        "pi_3MtwBwLkdIwHu7ix28a3tqXb",
        "succeeded",
        Decimal("5"),
    )


@respx.mock
def test_stripe_charge_needing_the_customer_is_refused():
    respx.get("https://api.stripe.com/v1/payment_intents/pi_earlier").respond(200, json=STRIPE_EARLIER)
    respx.post("https://api.stripe.com/v1/payment_intents").respond(402, json=STRIPE_AUTHENTICATION_REQUIRED)

    with pytest.raises(ProviderError) as refused:
        StripeProvider(secret_key="sk_test_x").charge(
            payment_reference="pi_earlier", amount=Decimal("5"), currency="EUR", idempotency_key="c"
        )

    assert (refused.value.code, refused.value.status) == ("authentication_required", 402)


@respx.mock
def test_stripe_charge_without_a_saved_payment_method_is_refused_before_any_charge():
    respx.get("https://api.stripe.com/v1/payment_intents/pi_earlier").respond(
        200, json={**STRIPE_EARLIER, "customer": None}
    )
    create = respx.post("https://api.stripe.com/v1/payment_intents")

    with pytest.raises(ProviderError) as refused:
        StripeProvider(secret_key="sk_test_x").charge(
            payment_reference="pi_earlier", amount=Decimal("5"), currency="EUR", idempotency_key="c"
        )

    assert refused.value.code == "no_saved_payment_method"
    assert not create.called


@respx.mock
def test_mollie_void_releases_the_authorisation():
    route = respx.post("https://api.mollie.com/v2/payments/tr_WDqYK6vllg/release-authorization").respond(202)

    result = MollieProvider(api_key="test_abc").void(
        payment_reference="tr_WDqYK6vllg", amount=Decimal("53.00"), currency="EUR", idempotency_key="void-7"
    )

    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "void-7"
    assert request.headers["Authorization"] == "Bearer test_abc"
    assert (result.reference, result.status, result.amount) == (
        "tr_WDqYK6vllg",
        "succeeded",
        Decimal("53.00"),
    )


@respx.mock
def test_mollie_void_refused_and_rate_limited():
    respx.post("https://api.mollie.com/v2/payments/tr_1/release-authorization").mock(
        side_effect=[httpx.Response(422, json=MOLLIE_NOT_AUTHORISED), httpx.Response(429, json={})]
    )
    mollie = MollieProvider(api_key="test_abc")

    with pytest.raises(ProviderError) as refused:
        mollie.void(payment_reference="tr_1", amount=Decimal("1"), currency="EUR", idempotency_key="v")
    with pytest.raises(ProviderUnavailable):
        mollie.void(payment_reference="tr_1", amount=Decimal("1"), currency="EUR", idempotency_key="v")

    assert refused.value.status == 422
    assert "cannot be released" in str(refused.value)


@respx.mock
def test_mollie_charge_is_a_recurring_payment_on_the_customers_mandate():
    respx.get("https://api.mollie.com/v2/payments/tr_WDqYK6vllg").respond(200, json=MOLLIE_EARLIER)
    create = respx.post("https://api.mollie.com/v2/payments").mock(
        side_effect=[httpx.Response(201, json=MOLLIE_RECURRING), httpx.Response(422, json=MOLLIE_NO_MANDATE)]
    )
    mollie = MollieProvider(api_key="test_abc")

    result = mollie.charge(
        payment_reference="tr_WDqYK6vllg",
        amount=Decimal("5.00"),
        currency="EUR",
        idempotency_key="charge-9-RET-1",
        description="CMD-000009",
    )
    with pytest.raises(ProviderError) as refused:
        mollie.charge(
            payment_reference="tr_WDqYK6vllg", amount=Decimal("5"), currency="EUR", idempotency_key="x"
        )

    request = create.calls[0].request
    assert json.loads(request.content) == {
        "amount": {"currency": "EUR", "value": "5.00"},
        "description": "CMD-000009",
        "sequenceType": "recurring",
        "customerId": "cst_8wmqcHMN4U",
        "mandateId": "mdt_h3gAaD5zP",
    }
    assert request.headers["Idempotency-Key"] == "charge-9-RET-1"
    assert (result.reference, result.status, result.amount) == ("tr_7UhSN1zuXS", "succeeded", Decimal("5.00"))
    assert (refused.value.code, str(refused.value)) == (
        "customerId",
        "The customer does not have a suitable mandate",
    )
