"""Which adapter serves a carrier (``Carrier.adapter``), with its credentials: the environment's settings,
overridden by what a manager entered in the carrier's settings form (``CarrierAccount``). A carrier marked
``sandbox`` is played offline by the sandbox adapter in that carrier's formats and event codes."""

from __future__ import annotations

import json

from django.conf import settings

from .base import CarrierAdapter
from .chronopost import ChronopostAdapter
from .colissimo import ColissimoAdapter
from .dhl import DhlAdapter
from .dhl_express import DhlExpressAdapter
from .dpd import DpdFranceAdapter
from .fedex import FedexAdapter
from .gls import GlsAdapter
from .mondial_relay import MondialRelayAdapter
from .sandbox import SandboxAdapter
from .ups import UpsAdapter


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
    "dhl_express": DhlExpressAdapter,
    "fedex": FedexAdapter,
    "ups": UpsAdapter,
    "dpd_fr": DpdFranceAdapter,
    "gls": GlsAdapter,
    "store": StoreAdapter,
}


def environment_config(code: str) -> dict:
    """The credentials and options of an adapter from the settings (django-environ)."""
    s = settings
    g = lambda name, default="": getattr(s, name, default)  # noqa: E731
    configs = {
        "sandbox": {
            "failure_rate": g("SANDBOX_CARRIER_FAILURE_RATE", 0.0),
            "webhook_secret": g("SANDBOX_WEBHOOK_SECRET"),
        },
        "colissimo": {
            "contract_number": g("COLISSIMO_CONTRACT_NUMBER"),
            "password": g("COLISSIMO_PASSWORD"),
            "api_key": g("COLISSIMO_API_KEY"),
            "okapi_key": g("LAPOSTE_OKAPI_KEY"),
            "suivi_url": g("LAPOSTE_SUIVI_URL"),
            "sls_url": g("COLISSIMO_SLS_URL"),
        },
        "chronopost": {
            "okapi_key": g("LAPOSTE_OKAPI_KEY"),
            "suivi_url": g("LAPOSTE_SUIVI_URL"),
            "account_number": g("CHRONOPOST_ACCOUNT_NUMBER"),
            "password": g("CHRONOPOST_PASSWORD"),
        },
        "mondial_relay": {
            "enseigne": g("MONDIAL_RELAY_ENSEIGNE"),
            "private_key": g("MONDIAL_RELAY_PRIVATE_KEY"),
            "collection_mode": g("MONDIAL_RELAY_COLLECTION_MODE", "CCC"),
        },
        "dhl": {"api_key": g("DHL_API_KEY")},
        "dhl_express": {
            "api_key": g("DHL_API_KEY"),
            "username": g("DHL_EXPRESS_API_KEY"),
            "password": g("DHL_EXPRESS_API_SECRET"),
            "account_number": g("DHL_EXPRESS_ACCOUNT_NUMBER"),
        },
        "fedex": {
            "client_id": g("FEDEX_CLIENT_ID"),
            "client_secret": g("FEDEX_CLIENT_SECRET"),
            "account_number": g("FEDEX_ACCOUNT_NUMBER"),
        },
        "ups": {
            "client_id": g("UPS_CLIENT_ID"),
            "client_secret": g("UPS_CLIENT_SECRET"),
            "account_number": g("UPS_ACCOUNT_NUMBER"),
        },
        "dpd_fr": {
            "login": g("DPD_FR_LOGIN"),
            "password": g("DPD_FR_PASSWORD"),
            "customer_number": g("DPD_FR_CUSTOMER_NUMBER"),
            "center_number": g("DPD_FR_CENTER_NUMBER"),
            "pudo_key": g("DPD_FR_PUDO_KEY"),
        },
        "gls": {
            "username": g("GLS_USERNAME"),
            "password": g("GLS_PASSWORD"),
            "contact_id": g("GLS_CONTACT_ID"),
        },
    }
    config = dict(configs.get(code, {}))
    if code in g("CARRIERS_TEST_MODE", []) or []:
        config["test_mode"] = True
    return config


def adapter_config(code: str) -> dict:
    """The environment's configuration with the settings form's values on top (non-empty ones win)."""
    from ..models import CarrierAccount

    config = environment_config(code)
    has_form = code in ADAPTERS and bool(ADAPTERS[code].credentials)
    account = CarrierAccount.objects.filter(adapter=code).first() if has_form else None
    if account is not None:
        config.update({k: v for k, v in (account.values or {}).items() if v not in ("", None)})
        try:
            secrets = json.loads(account.secrets or "{}")
        except ValueError:
            secrets = {}
        config.update({k: v for k, v in secrets.items() if v})
        if account.test_mode:
            config["test_mode"] = True
    return config


def get_adapter(carrier, **kwargs) -> CarrierAdapter:
    """The adapter of a ``Carrier`` (or of an adapter code such as ``"colissimo"``). ``kwargs`` go to the
    adapter (``client=`` an ``httpx.Client``, ``config=`` to override the settings in tests)."""
    code = carrier if isinstance(carrier, str) else carrier.adapter
    try:
        cls = ADAPTERS[code]
    except KeyError:
        raise LookupError(f"No carrier adapter {code!r}.") from None
    if (
        not isinstance(carrier, str)
        and getattr(carrier, "sandbox", False)
        and code not in ("sandbox", "store")
    ):
        config = {**environment_config("sandbox"), "plays": code, **kwargs.pop("config", {})}
        return SandboxAdapter(config=config, **kwargs)
    if "config" not in kwargs:
        kwargs["config"] = adapter_config(code)
    return cls(**kwargs)
