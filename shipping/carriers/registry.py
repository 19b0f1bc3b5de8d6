"""Which adapter serves a carrier (``Carrier.adapter``), with its credentials from the settings."""

from __future__ import annotations

from django.conf import settings

from .base import CarrierAdapter
from .colissimo import ColissimoAdapter
from .dhl import DhlAdapter
from .laposte import ChronopostAdapter
from .mondial_relay import MondialRelayAdapter
from .sandbox import SandboxAdapter


class StoreAdapter(CarrierAdapter):
    """Our own stores (click & collect): no carrier behind, so no label, relay or tracking call."""

    code = "store"
    name = "Stores"
    supports = frozenset()


ADAPTERS: dict[str, type[CarrierAdapter]] = {
    "sandbox": SandboxAdapter,
    "colissimo": ColissimoAdapter,
    "chronopost": ChronopostAdapter,
    "mondial_relay": MondialRelayAdapter,
    "dhl": DhlAdapter,
    "store": StoreAdapter,
}


def adapter_config(code: str) -> dict:
    """The credentials and options of an adapter, read from the settings (django-environ) at call time."""
    s = settings
    configs = {
        "sandbox": {
            "failure_rate": getattr(s, "SANDBOX_CARRIER_FAILURE_RATE", 0.0),
            "webhook_secret": getattr(s, "SANDBOX_WEBHOOK_SECRET", ""),
        },
        "colissimo": {
            "contract_number": getattr(s, "COLISSIMO_CONTRACT_NUMBER", ""),
            "password": getattr(s, "COLISSIMO_PASSWORD", ""),
            "api_key": getattr(s, "COLISSIMO_API_KEY", ""),
            "okapi_key": getattr(s, "LAPOSTE_OKAPI_KEY", ""),
        },
        "chronopost": {"okapi_key": getattr(s, "LAPOSTE_OKAPI_KEY", "")},
        "mondial_relay": {
            "enseigne": getattr(s, "MONDIAL_RELAY_ENSEIGNE", ""),
            "private_key": getattr(s, "MONDIAL_RELAY_PRIVATE_KEY", ""),
            "collection_mode": getattr(s, "MONDIAL_RELAY_COLLECTION_MODE", "CCC"),
        },
        "dhl": {"api_key": getattr(s, "DHL_API_KEY", "")},
    }
    return configs.get(code, {})


def get_adapter(carrier, **kwargs) -> CarrierAdapter:
    """The adapter of a ``Carrier`` (or of an adapter code such as ``"colissimo"``). ``kwargs`` go to the
    adapter (``client=`` an ``httpx.Client``, ``config=`` to override the settings in tests)."""
    code = carrier if isinstance(carrier, str) else carrier.adapter
    try:
        cls = ADAPTERS[code]
    except KeyError:
        raise LookupError(f"No carrier adapter {code!r}.") from None
    kwargs.setdefault("config", adapter_config(code))
    return cls(**kwargs)
