"""A payment service for the demo and offline tests: it answers at once, like a real one, without money
moving. The same idempotency key gives the same id (as the real services replay a key); a payment reference
starting with ``sbx_declined`` is refused, so the demo can show a failed capture or refund."""

import hashlib
from decimal import Decimal

from .base import ProviderError, ProviderResult


class SandboxProvider:
    code = "sandbox"

    def _answer(self, prefix: str, *, payment_reference: str, amount: Decimal, idempotency_key: str):
        if payment_reference.startswith("sbx_declined"):
            raise ProviderError("The sandbox declines this payment (its reference starts with sbx_declined).")
        if amount <= 0:
            raise ProviderError("The amount must be positive.", code="amount_invalid")
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        return ProviderResult(reference=f"{prefix}_{digest}", status="succeeded", amount=amount)

    def capture(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        return self._answer(
            "sbx_cpt", payment_reference=payment_reference, amount=amount, idempotency_key=idempotency_key
        )

    def refund(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        return self._answer(
            "sbx_re", payment_reference=payment_reference, amount=amount, idempotency_key=idempotency_key
        )

    def void(self, *, payment_reference, amount, currency, idempotency_key) -> ProviderResult:
        return self._answer(
            "sbx_void", payment_reference=payment_reference, amount=amount, idempotency_key=idempotency_key
        )

    def charge(
        self, *, payment_reference, amount, currency, idempotency_key, description=""
    ) -> ProviderResult:
        return self._answer(
            "sbx_pay", payment_reference=payment_reference, amount=amount, idempotency_key=idempotency_key
        )
