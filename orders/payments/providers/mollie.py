"""Mollie, Payments API v2 (docs.mollie.com/reference): a payment created with ``captureMode: manual`` is
captured with ``POST /v2/payments/{id}/captures`` and refunded with ``POST /v2/payments/{id}/refunds``, both
with ``{"amount": {"currency": "EUR", "value": "10.00"}}`` (the value a string with two decimals). Bearer
API key, an ``Idempotency-Key`` header on every POST. Answers: a capture or refund resource (``id``
``cpt_…`` / ``re_…``, ``status``, ``amount``); errors are ``application/hal+json`` ``{"status", "title",
"detail", "field"}`` with 4xx; 429 and 5xx are retried.

An authorisation nothing will be captured from is released with ``POST
/v2/payments/{id}/release-authorization`` (answered ``202 Accepted``; the payment becomes ``canceled`` when
the issuer lets the hold go). A dearer exchange's difference is a recurring payment of the customer:
``GET /v2/payments/{id}`` gives its ``customerId`` (and ``mandateId``), then ``POST /v2/payments`` with
``sequenceType: recurring`` (status ``paid``, or ``pending`` while a direct debit clears; no valid mandate
is a 422)."""

from decimal import Decimal

import httpx

from .base import TIMEOUT, ProviderError, ProviderResult, send

BASE_URL = "https://api.mollie.com"


def _raise(response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        body = {}
    raise ProviderError(
        body.get("detail") or body.get("title") or f"Mollie answered {response.status_code}.",
        code=str(body.get("field") or body.get("title") or response.status_code),
        status=response.status_code,
    )


def _amount(amount: Decimal, currency: str) -> dict:
    return {"currency": currency, "value": f"{amount:.2f}"}


class MollieProvider:
    code = "mollie"

    def __init__(self, *, api_key: str, base_url: str = BASE_URL):
        if not api_key:
            raise ProviderError("MOLLIE_API_KEY is not set.", code="not_configured")
        self.api_key = api_key
        self.base_url = base_url

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=TIMEOUT
        )

    def _post(self, url: str, *, amount, currency, idempotency_key, extra=None) -> ProviderResult:
        with self._client() as client:
            response = send(
                client,
                "POST",
                url,
                json={"amount": _amount(amount, currency), **(extra or {})},
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        body = response.json()
        status = body.get("status")
        if status in ("failed", "canceled"):
            raise ProviderError(f"Mollie {body.get('resource', '')} {body.get('id')} {status}.", code=status)
        return ProviderResult(
            reference=body["id"],
            status="succeeded" if status in ("succeeded", "refunded") else "pending",
            amount=Decimal(body["amount"]["value"]),
        )

    def capture(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        return self._post(
            f"/v2/payments/{payment_reference}/captures",
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
        )

    def refund(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        return self._post(
            f"/v2/payments/{payment_reference}/refunds",
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
        )

    def void(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        with self._client() as client:
            send(
                client,
                "POST",
                f"/v2/payments/{payment_reference}/release-authorization",
                json={},
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        return ProviderResult(reference=payment_reference, status="succeeded", amount=amount)

    def charge(
        self, *, payment_reference, amount, currency, idempotency_key, description=""
    ) -> ProviderResult:
        with self._client() as client:
            earlier = send(client, "GET", f"/v2/payments/{payment_reference}", on_error=_raise).json()
            if not earlier.get("customerId"):
                raise ProviderError(
                    f"Mollie payment {payment_reference} has no customer to charge again.", code="no_customer"
                )
            body = {
                "amount": _amount(amount, currency),
                "description": description[:255] or f"Supplement to {payment_reference}",
                "sequenceType": "recurring",
                "customerId": earlier["customerId"],
            }
            if earlier.get("mandateId"):
                body["mandateId"] = earlier["mandateId"]
            response = send(
                client,
                "POST",
                "/v2/payments",
                json=body,
                headers={"Idempotency-Key": idempotency_key},
                on_error=_raise,
            )
        answer = response.json()
        status = answer.get("status")
        if status in ("failed", "canceled", "expired"):
            raise ProviderError(f"Mollie payment {answer.get('id')} {status}.", code=status)
        return ProviderResult(
            reference=answer["id"],
            status="succeeded" if status == "paid" else "pending",
            amount=Decimal(answer["amount"]["value"]),
        )
