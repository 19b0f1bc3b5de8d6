"""What every connector shares to turn a channel's order into the intake's ``OrderInput``."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import translation

from common.addresses import address_clean, error_messages
from orders.exceptions import InvalidOrder, MalformedPayload
from orders.models import DeliveryMode

CENT = Decimal("0.01")


def obj(value, *, field: str) -> dict:
    """``value`` as an object of the payload: missing or empty is ``{}``; anything else but an object is a
    ``MalformedPayload`` naming the field."""
    if value in (None, "", [], {}):
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(
            f"{field} is a {_kind(value)}, not an object.", details={field: ["Expected an object."]}
        )
    return value


def objects(value, *, field: str) -> list[dict]:
    """``value`` as a list of objects of the payload (missing is ``[]``), or a ``MalformedPayload``."""
    if value in (None, "", {}):
        return []
    if not isinstance(value, list):
        raise MalformedPayload(
            f"{field} is a {_kind(value)}, not a list of objects.",
            details={field: ["Expected a list of objects."]},
        )
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise MalformedPayload(
                f"{field}[{index}] is a {_kind(item)}, not an object.",
                details={field: {str(index): ["Expected an object."]}},
            )
    return value


def _kind(value) -> str:
    return {str: "string", bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def money(value, *, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidOrder(f"{field} is not an amount: {value!r}.", details={field: [str(value)]}) from None
    if not amount.is_finite():
        raise InvalidOrder(f"{field} is not an amount: {value!r}.", details={field: [str(value)]})
    return amount


def parse_mode(value: str) -> tuple[str, str]:
    """``home`` | ``relay:<carrier>`` | ``store:<store code>`` → (mode, argument)."""
    mode, _sep, argument = (value or "").strip().partition(":")
    mode = mode.strip().lower()
    if mode not in DeliveryMode.values:
        raise ValueError(value)
    if mode == DeliveryMode.STORE and not argument.strip():
        raise ValueError(value)
    return mode, argument.strip()


def delivery_for(
    *, modes: dict, method: str, address: dict, relay_id: str = "", relay_name: str = ""
) -> tuple[dict, str]:
    """The intake's ``delivery`` for a shipping method title, by the channel's mapping (case-insensitive;
    ``*`` is the default; without a match: home). Returns (delivery, the mapping value used)."""
    lookup = {str(k).strip().lower(): v for k, v in (modes or {}).items()}
    value = lookup.get((method or "").strip().lower()) or lookup.get("*") or DeliveryMode.HOME
    try:
        mode, argument = parse_mode(value)
    except ValueError:
        raise InvalidOrder(
            f"The delivery mode mapped to {method!r} is not valid: {value!r}.",
            details={"shipping_method": method, "mapping": value},
        ) from None
    if mode == DeliveryMode.STORE:
        return {"mode": mode, "store": argument}, value
    address = _checked(address, postcode_required=mode == DeliveryMode.HOME)
    if mode == DeliveryMode.RELAY:
        relay = {
            "carrier": argument or "relay",
            "id": relay_id,
            "name": relay_name or address.get("company") or address.get("name", ""),
            "line1": address.get("line1", ""),
            "line2": address.get("line2", ""),
            "postcode": address.get("postcode", ""),
            "city": address.get("city", ""),
            "country": address.get("country", "FR"),
        }
        return {"mode": mode, "relay_point": relay}, value
    return {"mode": mode, "address": address}, value


def _checked(address: dict, *, postcode_required: bool) -> dict:
    """The address with its postcode and country checked and normalised by ``common.addresses``; an
    ``InvalidOrder`` (``invalid_address``) naming the field otherwise, so the delivery fails with it (in
    English, as the other errors of the deliveries, whatever language the worker runs in)."""
    with translation.override("en"):
        try:
            postcode, country = address_clean(
                postcode=address.get("postcode", ""),
                country=address.get("country") or "FR",
                postcode_required=postcode_required,
            )
            errors = None
        except ValidationError as exc:
            errors = error_messages(exc)
    if errors:
        raise InvalidOrder(
            "The shipping address is not valid: "
            + " ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()),
            code="invalid_address",
            details={"shipping_address": errors},
        )
    return {**address, "postcode": postcode, "country": country}


def clip(value, size: int) -> str:
    return ("" if value is None else str(value)).strip()[:size]
