"""WooCommerce: webhook payloads (the REST order resource) to orders, and the REST API v3 for stock and
completed orders. Auth: HTTP Basic with the consumer key and secret (over HTTPS)."""

import datetime as dt
from decimal import Decimal

import httpx
from django.utils.dateparse import parse_datetime

from orders.exceptions import InvalidOrder
from orders.services.intake import LineInput, OrderInput

from .http import ChannelError, client, send
from .mapping import CENT, clip, delivery_for, money, obj, objects

TOPICS = {"order.created", "order.updated", "order.deleted", "order.restored"}
# Orders taken as they come (paid, or on hold waiting for a bank transfer); others wait for an update.
IMPORT_STATUSES = {"processing", "on-hold", "completed"}
CANCEL_STATUSES = {"cancelled", "refunded", "failed"}
BATCH = 100  # products/batch takes at most 100 objects
RELAY_META = {"relay_point_id", "_relay_point_id", "mondial_relay_id", "_pickup_point_id", "pickup_point_id"}


def _address(source: dict, *, phone: str = "") -> dict:
    name = " ".join(p for p in (source.get("first_name"), source.get("last_name")) if p)
    return {
        "name": clip(name, 200),
        "company": clip(source.get("company"), 200),
        "line1": clip(source.get("address_1"), 200),
        "line2": clip(source.get("address_2"), 200),
        "postcode": clip(source.get("postcode"), 16),
        "city": clip(source.get("city"), 120),
        "country": clip(source.get("country") or "FR", 8),
        "phone": clip(source.get("phone") or phone, 32),
    }


def _unit_price(item: dict, index: int) -> Decimal:
    quantity = int(item.get("quantity") or 0) or 1
    if item.get("total") is not None:
        total = money(item.get("total"), field=f"line_items[{index}].total") + money(
            item.get("total_tax") or "0", field=f"line_items[{index}].total_tax"
        )
        return (total / quantity).quantize(CENT)
    return money(item.get("price", "0"), field=f"line_items[{index}].price")


def order_input(payload: dict, *, modes: dict) -> tuple[OrderInput, str]:
    if not isinstance(payload, dict) or not payload.get("id"):
        raise InvalidOrder("The payload is not a WooCommerce order (no id).", details={"id": ["Required."]})
    currency = payload.get("currency") or "EUR"
    if currency != "EUR":
        raise InvalidOrder(
            f"Only orders in EUR are taken (this one is in {currency}).", details={"currency": [currency]}
        )
    billing = obj(payload.get("billing"), field="billing")
    shipping = obj(payload.get("shipping"), field="shipping")
    if not shipping.get("address_1"):
        shipping = billing
    address = _address(shipping, phone=billing.get("phone", ""))
    lines = []
    for index, item in enumerate(objects(payload.get("line_items"), field="line_items")):
        if not item.get("sku"):
            raise InvalidOrder(
                f"Line item {item.get('id')} ({item.get('name', '')}) has no SKU.",
                details={"line_items": {str(index): {"sku": ["Required."]}}},
            )
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidOrder(
                f"Line item {item.get('id')}: quantity {quantity!r} is not a whole number.",
                details={"line_items": {str(index): {"quantity": [str(quantity)]}}},
            )
        lines.append(
            LineInput(sku=str(item["sku"]).strip(), quantity=quantity, unit_price=_unit_price(item, index))
        )
    shipping_lines = objects(payload.get("shipping_lines"), field="shipping_lines")
    method = shipping_lines[0].get("method_title", "") if shipping_lines else ""
    meta = {
        str(m.get("key", "")).lower(): str(m.get("value", ""))
        for m in objects(payload.get("meta_data"), field="meta_data")
    }
    relay_id = next((meta[k] for k in RELAY_META if meta.get(k)), "")
    delivery, mapping = delivery_for(modes=modes, method=method, address=address, relay_id=relay_id)
    data = OrderInput(
        external_id=str(payload["id"]),
        customer={
            "email": clip(billing.get("email"), 254),
            "first_name": clip(billing.get("first_name") or shipping.get("first_name"), 100),
            "last_name": clip(billing.get("last_name") or shipping.get("last_name"), 100),
            "phone": clip(billing.get("phone"), 32),
            "company": clip(billing.get("company"), 200),
        },
        delivery=delivery,
        lines=lines,
        note=clip(payload.get("customer_note"), 2000),
        shipping_fee=_shipping_fee(payload, shipping_lines),
        payment=payment_of(payload),
    )
    return data, f"{method or '-'} → {mapping}"


def payment_of(payload: dict) -> dict | None:
    """Paid when ``date_paid_gmt`` is set; ``on-hold`` waits for a payment (a bank transfer): the order is
    held until it comes; ``pending`` likewise. Otherwise (cash on delivery...) nothing is paid yet."""
    status = payload.get("status", "")
    paid = payload.get("date_paid_gmt") or payload.get("date_paid")
    common = {
        "amount": money(payload.get("total") or "0", field="total"),
        "provider": "woocommerce",
        "reference": clip(payload.get("transaction_id") or payload.get("payment_method_title"), 100),
    }
    if paid:
        moment = parse_datetime(str(paid))
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return {**common, "status": "paid", "paid_at": moment}
    if status in ("on-hold", "pending"):
        return {**common, "status": "pending"}
    return None


def _shipping_fee(payload: dict, shipping_lines: list[dict]) -> Decimal:
    """What the customer paid for shipping: the order's ``shipping_total`` plus ``shipping_tax`` (the REST
    resource gives both excluding each other), else the shipping lines' ``total`` + ``total_tax``."""
    if payload.get("shipping_total") is not None:
        total = money(payload.get("shipping_total") or "0", field="shipping_total") + money(
            payload.get("shipping_tax") or "0", field="shipping_tax"
        )
    else:
        total = sum(
            (
                money(line.get("total") or "0", field=f"shipping_lines[{i}].total")
                + money(line.get("total_tax") or "0", field=f"shipping_lines[{i}].total_tax")
                for i, line in enumerate(shipping_lines)
            ),
            Decimal("0"),
        )
    return max(Decimal("0"), total).quantize(CENT)


def reference(payload: dict) -> str:
    return str(payload.get("number") or payload.get("id") or "")


def _client(connection):
    if not connection.base_url or not connection.api_key or not connection.api_secret:
        raise ChannelError(
            "The shop address, consumer key and consumer secret must be set on the connector page."
        )
    return client(
        base_url=connection.base_url.rstrip("/") + "/wp-json/wc/v3",
        auth=httpx.BasicAuth(connection.api_key, connection.api_secret),
    )


def products_by_sku(connection, skus: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    with _client(connection) as http:
        for start in range(0, len(skus), BATCH):
            chunk = skus[start : start + BATCH]
            response = send(http, "GET", "/products", params={"sku": ",".join(chunk), "per_page": BATCH})
            for product in response.json():
                if product.get("sku") in chunk:
                    found[product["sku"]] = str(product["id"])
    return found


def stock_set(connection, rows: list[tuple[str, int]]) -> None:
    """Absolute quantities: sending the same batch twice leaves the same stock (idempotent by nature)."""
    with _client(connection) as http:
        response = send(
            http,
            "POST",
            "/products/batch",
            json={"update": [{"id": int(pid), "manage_stock": True, "stock_quantity": q} for pid, q in rows]},
        )
    refused = [p for p in response.json().get("update", []) if p.get("error")]
    if refused:
        raise ChannelError(
            "WooCommerce refused some products: " + "; ".join(str(p["error"].get("message")) for p in refused)
        )


def order_shipped(connection, *, order_id: str, note: str, marker: str, complete: bool) -> str:
    """Add a customer note with the tracking (once: skipped when a note already names ``marker``) and mark
    the order completed when every parcel left."""
    with _client(connection) as http:
        notes = send(http, "GET", f"/orders/{order_id}/notes").json()
        if not any(marker in (n.get("note") or "") for n in notes):
            send(http, "POST", f"/orders/{order_id}/notes", json={"note": note, "customer_note": True})
        if complete:
            send(http, "PUT", f"/orders/{order_id}", json={"status": "completed"})
    return marker
