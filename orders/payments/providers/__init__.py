"""Payment services the OMS captures and refunds through. ``provider_for(code)`` is the adapter of a
provider code, or None for payments managed elsewhere (the channel's own checkout, a bank transfer): their
refunds are made there and recorded by staff."""

from django.conf import settings

from .base import PaymentProvider, ProviderError, ProviderResult, ProviderUnavailable
from .mollie import MollieProvider
from .sandbox import SandboxProvider
from .stripe import StripeProvider

__all__ = [
    "PaymentProvider",
    "ProviderError",
    "ProviderResult",
    "ProviderUnavailable",
    "provider_for",
    "PROVIDERS",
]

PROVIDERS = ("sandbox", "stripe", "mollie")


def provider_for(code: str) -> PaymentProvider | None:
    match code:
        case "sandbox":
            return SandboxProvider()
        case "stripe":
            return StripeProvider(secret_key=settings.STRIPE_SECRET_KEY)
        case "mollie":
            return MollieProvider(api_key=settings.MOLLIE_API_KEY)
    return None
