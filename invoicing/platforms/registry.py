"""Which adapter serves a platform code, with its credentials read from the settings at call time."""

from __future__ import annotations

from django.conf import settings

from .base import PlatformAdapter
from .chorus import ChorusProAdapter
from .sandbox import SandboxAdapter
from .superpdp import SuperPdpAdapter

ADAPTERS: dict[str, type[PlatformAdapter]] = {
    "sandbox": SandboxAdapter,
    "superpdp": SuperPdpAdapter,
    "chorus": ChorusProAdapter,
}


def platform_config(code: str) -> dict:
    s = settings
    return {
        "sandbox": {
            "down": getattr(s, "SANDBOX_PA_DOWN", False),
            "webhook_secret": getattr(s, "SANDBOX_PA_WEBHOOK_SECRET", ""),
        },
        "superpdp": {
            "url": getattr(s, "SUPERPDP_API_URL", ""),
            "client_id": getattr(s, "SUPERPDP_CLIENT_ID", ""),
            "client_secret": getattr(s, "SUPERPDP_CLIENT_SECRET", ""),
        },
        "chorus": {
            "sandbox": getattr(s, "CHORUS_PRO_SANDBOX", False),
            "client_id": getattr(s, "CHORUS_PRO_CLIENT_ID", ""),
            "client_secret": getattr(s, "CHORUS_PRO_CLIENT_SECRET", ""),
            "login": getattr(s, "CHORUS_PRO_LOGIN", ""),
            "password": getattr(s, "CHORUS_PRO_PASSWORD", ""),
            "syntaxes": {
                k: v
                for k, v in {
                    "facturx": getattr(s, "CHORUS_PRO_SYNTAX_FACTURX", ""),
                    "ubl": getattr(s, "CHORUS_PRO_SYNTAX_UBL", ""),
                }.items()
                if v
            },
        },
    }.get(code, {})


def get_platform(code: str, **kwargs) -> PlatformAdapter:
    try:
        cls = ADAPTERS[code]
    except KeyError:
        raise LookupError(f"No e-invoicing platform {code!r}.") from None
    kwargs.setdefault("config", platform_config(code))
    return cls(**kwargs)
