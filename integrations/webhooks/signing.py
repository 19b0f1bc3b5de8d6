"""The signature of a delivery: ``OMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the HMAC is of
``"<t>.<raw body>"`` under the endpoint's secret. The timestamp is signed with the body, so a receiver that
refuses timestamps older than a few minutes cannot be fed a captured request again (replay attack); the
delivery's id (``OMS-Delivery-Id``, also ``id`` in the body) lets it drop a retry it already handled."""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "OMS-Signature"
DELIVERY_HEADER = "OMS-Delivery-Id"
EVENT_HEADER = "OMS-Event"
TOLERANCE_SECONDS = 300


def sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The value of the ``OMS-Signature`` header for ``body`` sent now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    *, secret: str, body: bytes, header: str, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
):
    """What a receiver does (the README's example in Python): True if ``header`` signs ``body`` with
    ``secret`` and its timestamp is within ``tolerance`` seconds of now."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(expected, value)
        for key, value in (item.split("=", 1) for item in header.split(","))
        if key == "v1"
    )
