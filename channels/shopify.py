"""Shopify: webhook payloads to orders, and the GraphQL Admin API for stock and fulfilments.

Facts (shopify.dev): webhooks carry ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(raw body, secret)),
``X-Shopify-Topic``, ``X-Shopify-Webhook-Id``; the order payload has ``id``, ``name``, ``email``,
``currency``, ``taxes_included``, ``line_items[] {sku, quantity, price, tax_lines, discount_allocations}``,
``shipping_address``, ``shipping_lines[] {title, code}``, ``customer``. Stock is set with
``inventorySetQuantities`` (with the ``@idempotent`` directive from 2026-01); parcels are reported with
``fulfillmentCreate`` on the order's fulfillment orders.
"""

from decimal import Decimal

from django.utils.dateparse import parse_datetime

from orders.exceptions import InvalidOrder
from orders.services.intake import LineInput, OrderInput

from .http import ChannelError, ChannelUnavailable, client, send
from .mapping import CENT, clip, delivery_for, money, obj, objects

TOPICS = {"orders/create", "orders/updated", "orders/cancelled"}
BATCH = 250  # inventorySetQuantities takes at most 250 quantities

RELAY_ATTRIBUTES = {"relay_point_id", "relay_id", "pickup_point_id", "point_relais"}


def _address(source: dict | None) -> dict:
    source = source or {}
    name = source.get("name") or " ".join(p for p in (source.get("first_name"), source.get("last_name")) if p)
    return {
        "name": clip(name, 200),
        "company": clip(source.get("company"), 200),
        "line1": clip(source.get("address1"), 200),
        "line2": clip(source.get("address2"), 200),
        "postcode": clip(source.get("zip"), 16),
        "city": clip(source.get("city"), 120),
        "country": clip(source.get("country_code") or "FR", 8),
        "phone": clip(source.get("phone"), 32),
    }


def _unit_price(item: dict, *, taxes_included: bool, index: int) -> Decimal:
    quantity = int(item.get("quantity") or 0) or 1
    price = money(item.get("price", "0"), field=f"line_items[{index}].price")
    if not taxes_included:
        taxes = sum(
            (
                money(t.get("price", "0"), field="tax_lines.price")
                for t in objects(item.get("tax_lines"), field=f"line_items[{index}].tax_lines")
            ),
            Decimal("0"),
        )
        price += taxes / quantity
    discounts = sum(
        (
            money(d.get("amount", "0"), field="discount_allocations.amount")
            for d in objects(
                item.get("discount_allocations"), field=f"line_items[{index}].discount_allocations"
            )
        ),
        Decimal("0"),
    )
    return max(Decimal("0"), price - discounts / quantity).quantize(CENT)


def order_input(payload: dict, *, modes: dict) -> tuple[OrderInput, str]:
    """The intake's input for a Shopify order, and the delivery mapping used (for the timeline)."""
    if not isinstance(payload, dict) or not payload.get("id"):
        raise InvalidOrder("The payload is not a Shopify order (no id).", details={"id": ["Required."]})
    currency = payload.get("currency") or "EUR"
    if currency != "EUR":
        raise InvalidOrder(
            f"Only orders in EUR are taken (this one is in {currency}).", details={"currency": [currency]}
        )
    customer = obj(payload.get("customer"), field="customer")
    shipping = obj(payload.get("shipping_address"), field="shipping_address") or obj(
        payload.get("billing_address"), field="billing_address"
    )
    address = _address(shipping)
    taxes_included = bool(payload.get("taxes_included", True))
    lines = []
    for index, item in enumerate(objects(payload.get("line_items"), field="line_items")):
        if item.get("requires_shipping") is False and not item.get("sku"):
            continue  # gift cards, services: nothing to ship
        if not item.get("sku"):
            raise InvalidOrder(
                f"Line item {item.get('id')} ({item.get('title', '')}) has no SKU.",
                details={"line_items": {str(index): {"sku": ["Required."]}}},
            )
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidOrder(
                f"Line item {item.get('id')}: quantity {quantity!r} is not a whole number.",
                details={"line_items": {str(index): {"quantity": [str(quantity)]}}},
            )
        lines.append(
            LineInput(
                sku=str(item["sku"]).strip(),
                quantity=quantity,
                unit_price=_unit_price(item, taxes_included=taxes_included, index=index),
            )
        )
    shipping_lines = objects(payload.get("shipping_lines"), field="shipping_lines")
    method = shipping_lines[0].get("title", "") if shipping_lines else ""
    shipping_fee = _shipping_fee(shipping_lines, taxes_included=taxes_included)
    attributes = {
        str(a.get("name", "")).lower(): str(a.get("value", ""))
        for a in objects(payload.get("note_attributes"), field="note_attributes")
    }
    relay_id = next((attributes[k] for k in RELAY_ATTRIBUTES if attributes.get(k)), "")
    if not relay_id and shipping_lines:
        relay_id = str(shipping_lines[0].get("code") or "")
    delivery, mapping = delivery_for(modes=modes, method=method, address=address, relay_id=relay_id)
    data = OrderInput(
        external_id=str(payload["id"]),
        customer={
            "email": clip(payload.get("email") or payload.get("contact_email") or customer.get("email"), 254),
            "first_name": clip(customer.get("first_name") or shipping.get("first_name"), 100),
            "last_name": clip(customer.get("last_name") or shipping.get("last_name"), 100),
            "phone": clip(customer.get("phone") or shipping.get("phone") or payload.get("phone"), 32),
        },
        delivery=delivery,
        lines=lines,
        note=clip(payload.get("note"), 2000),
        shipping_fee=shipping_fee,
        payment=payment_of(payload),
    )
    return data, f"{method or '-'} → {mapping}"


def payment_of(payload: dict) -> dict | None:
    """Where the money is, from ``financial_status`` (pending, authorized, partially_paid, paid,
    partially_refunded, refunded, voided) and ``total_price``; Shopify's checkout holds it (captures and
    refunds are made there)."""
    status = payload.get("financial_status")
    if not status:
        return None
    gateways = payload.get("payment_gateway_names") or []
    gateways = ", ".join(str(g) for g in gateways if g) if isinstance(gateways, list) else ""
    return {
        "status": str(status),
        "amount": money(payload.get("total_price") or "0", field="total_price"),
        "provider": "shopify",
        "reference": clip(
            ", ".join(str(g) for g in gateways if g) if isinstance(gateways, list) else "", 100
        ),
        "paid_at": parse_datetime(str(payload.get("processed_at") or "")) if status == "paid" else None,
    }


def _shipping_fee(shipping_lines: list[dict], *, taxes_included: bool) -> Decimal:
    """What the customer paid for shipping: each shipping line's price after its discounts
    (``discounted_price`` when given), plus its taxes when prices exclude them."""
    total = Decimal("0")
    for index, line in enumerate(shipping_lines):
        price = line.get("discounted_price", line.get("price")) or "0"
        total += money(price, field=f"shipping_lines[{index}].price")
        if not taxes_included:
            for tax in objects(line.get("tax_lines"), field=f"shipping_lines[{index}].tax_lines"):
                total += money(tax.get("price") or "0", field=f"shipping_lines[{index}].tax_lines.price")
    return max(Decimal("0"), total).quantize(CENT)


def reference(payload: dict) -> str:
    return str(payload.get("name") or payload.get("id") or "")


# --- GraphQL Admin API -----------------------------------------------------------------------------------


def _client(connection):
    if not connection.base_url or not connection.access_token:
        raise ChannelError("The shop address and the access token must be set on the connector page.")
    domain = connection.base_url.removeprefix("https://").removeprefix("http://").strip("/")
    return client(
        base_url=f"https://{domain}",
        headers={"X-Shopify-Access-Token": connection.access_token, "Content-Type": "application/json"},
    )


def graphql(connection, query: str, variables: dict) -> dict:
    with _client(connection) as http:
        response = send(
            http,
            "POST",
            f"/admin/api/{connection.api_version or '2026-01'}/graphql.json",
            json={"query": query, "variables": variables},
        )
    body = response.json()
    errors = body.get("errors") or []
    if errors:
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
            raise ChannelUnavailable("Shopify throttled the request.")
        raise ChannelError(
            "Shopify refused the query: " + "; ".join(str(e.get("message")) for e in errors),
            body=response.text,
        )
    return body.get("data") or {}


VARIANTS_QUERY = """
query variantsBySku($query: String!) {
  productVariants(first: 250, query: $query) { nodes { sku inventoryItem { id } } }
}"""

SET_QUANTITIES = """
mutation setAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""


def inventory_items(connection, skus: list[str]) -> dict[str, str]:
    """SKU → inventory item GID, for the SKUs the shop has."""
    found: dict[str, str] = {}
    for start in range(0, len(skus), 50):
        chunk = skus[start : start + 50]
        query = " OR ".join(f"sku:'{s.replace(chr(39), '')}'" for s in chunk)
        data = graphql(connection, VARIANTS_QUERY, {"query": query})
        for node in (data.get("productVariants") or {}).get("nodes") or []:
            if node.get("sku") in chunk and node.get("inventoryItem"):
                found[node["sku"]] = node["inventoryItem"]["id"]
    return found


def stock_set(connection, rows: list[tuple[str, int]], *, key: str) -> None:
    """Set ``available`` of inventory items at the connection's location (absolute, we are the source of
    truth: no compare quantity). ``key`` makes a retried call a no-op at Shopify."""
    if not connection.remote_location_id:
        raise ChannelError("Set the Shopify location on the connector page to push stock.")
    variables = {
        "key": key,
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": f"oms://stock-push/{key}",
            "quantities": [
                {
                    "inventoryItemId": item,
                    "locationId": connection.remote_location_id,
                    "quantity": quantity,
                    "changeFromQuantity": None,
                }
                for item, quantity in rows
            ],
        },
    }
    data = graphql(connection, SET_QUANTITIES, variables)
    errors = (data.get("inventorySetQuantities") or {}).get("userErrors") or []
    if errors:
        raise ChannelError(
            "Shopify refused the quantities: " + "; ".join(e.get("message", "") for e in errors)
        )


FULFILLMENT_ORDERS = """
query fulfillmentOrders($id: ID!) {
  order(id: $id) {
    fulfillmentOrders(first: 20) {
      nodes { id status lineItems(first: 100) { nodes { id remainingQuantity lineItem { sku } } } }
    }
  }
}"""

FULFILLMENT_CREATE = """
mutation fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""


def fulfil(connection, *, order_id: str, items: list[tuple[str, int]], tracking: dict) -> str | None:
    """Report a parcel: its (sku, quantity) items are taken from the order's open fulfillment orders, with
    the tracking number. Returns the fulfilment's id, or None when nothing is left to fulfil (already
    reported: the natural idempotency guard when a retry follows a lost answer)."""
    data = graphql(connection, FULFILLMENT_ORDERS, {"id": f"gid://shopify/Order/{order_id}"})
    order = data.get("order")
    if order is None:
        raise ChannelError(f"Shopify has no order {order_id}.")
    wanted: dict[str, int] = {}
    for sku, quantity in items:
        wanted[sku] = wanted.get(sku, 0) + quantity
    groups = []
    for fo in (order.get("fulfillmentOrders") or {}).get("nodes") or []:
        if fo.get("status") not in ("OPEN", "IN_PROGRESS", "SCHEDULED"):
            continue
        lines = []
        for line in (fo.get("lineItems") or {}).get("nodes") or []:
            sku = (line.get("lineItem") or {}).get("sku")
            take = min(wanted.get(sku, 0), line.get("remainingQuantity") or 0)
            if take > 0:
                lines.append({"id": line["id"], "quantity": take})
                wanted[sku] -= take
        if lines:
            groups.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": lines})
    if not groups:
        return None
    result = graphql(
        connection,
        FULFILLMENT_CREATE,
        {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": groups,
                "trackingInfo": tracking,
                "notifyCustomer": True,
            }
        },
    )
    payload = result.get("fulfillmentCreate") or {}
    if payload.get("userErrors"):
        raise ChannelError(
            "Shopify refused the fulfilment: "
            + "; ".join(e.get("message", "") for e in payload["userErrors"])
        )
    return (payload.get("fulfillment") or {}).get("id")
