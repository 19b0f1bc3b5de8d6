"""Mirakl seller (shop) API, one connector per marketplace running on Mirakl (Fnac Darty, Carrefour, Leroy
Merlin, Boulanger, Conforama...): the instance's address, the shop's API key (header ``Authorization``) and,
when the key serves several shops, the shop id (``shop_id`` parameter).

- **OR11** ``GET /api/orders`` (``start_update_date``, ``order_state_codes``, ``offset``/``max`` pages of
  100): new and changed orders.
- **OR21** ``PUT /api/orders/{order_id}/accept`` (``order_lines[] {id, accepted}``): every line of an
  order WAITING_ACCEPTANCE is accepted or refused within the marketplace's delay, according to our stock:
  what we cannot serve is refused rather than oversold. The accepted lines are reserved at once (the order
  enters the intake before the answer is sent); a debit that fails later cancels it (CANCELED).
- **OR23** ``PUT /api/orders/{order_id}/tracking`` (carrier code or name, tracking number and URL) and
  **OR24** ``PUT /api/orders/{order_id}/ship`` when our parcels are handed over.
- CANCELED or REFUSED orders are cancelled here (OR29, the shop's cancellation of a whole order, comes back
  so too); the ``cancelations`` and ``refunds`` of single lines listed by OR11 (made by the operator, its
  customer service, or the shop through OR28 / OR30) are applied once by ``adjustments.py``.
- A connector in sandbox mode talks to the in-process simulation of ``sandbox.py`` (no key, no network).
- Our own changes (``outbound.py``): **OR30** ``PUT /api/orders/cancel`` (``cancelations[] {order_line_id,
  quantity, amount, shipping_amount, reason_code, currency_iso_code}``) for units we cancel before shipment,
  **OR29** ``PUT /api/orders/{order_id}/cancel`` for a whole order we cancel, **OR28**
  ``PUT /api/orders/refund`` (``refunds[] {order_line_id, quantity, amount, shipping_amount, reason_code,
  currency_iso_code}``) for what we refund after a return or as a gesture. OR30 and OR28 answer with the
  ids Mirakl gave (``cancelation_id``, ``refund_id``), which OR11 lists later on the lines.
- **RE02** ``GET /api/reasons/{reason_type}`` (``ORDER_CANCEL``, ``REFUND``...): the marketplace's
  reason codes.
- **OF01** ``POST /api/offers/imports`` (a CSV ``sku;quantity`` in ``PARTIAL_UPDATE`` mode): the offers'
  quantities; only the quantity column changes.
- **Call frequencies**: Mirakl documents a recommended and a maximum frequency per call and may block a
  shop that exceeds it. OR11 is called at most every ``MIN_POLL_SECONDS`` and OF01 at most every
  ``MIN_IMPORT_SECONDS`` per marketplace; 429 and 5xx are retried later.
"""

import csv
import io
from decimal import Decimal

import httpx

from orders.exceptions import InvalidOrder
from orders.services.intake import LineInput, OrderInput

from .http import ChannelError, client, send
from .mapping import clip, delivery_for

PAGE = 100
MIN_POLL_SECONDS = 300  # OR11: every 5 minutes at most
MIN_IMPORT_SECONDS = 300  # OF01: one offers import every 5 minutes at most
STATES = "WAITING_ACCEPTANCE,SHIPPING,SHIPPED,TO_COLLECT,RECEIVED,CLOSED,REFUSED,CANCELED"
ACCEPTANCE = "WAITING_ACCEPTANCE"
IMPORT_STATES = {"SHIPPING"}  # accepted and paid (accepted by hand in the back office: taken too)
CANCEL_STATES = {"CANCELED", "REFUSED"}


def _client(connection) -> httpx.Client:
    from .sandbox import transport_for

    transport = transport_for(connection)
    if transport is not None:  # the offline sandbox: a simulated instance, no key needed
        return client(
            base_url="https://sandbox.mirakl.invalid/api",
            headers={"Authorization": "sandbox", "Accept": "application/json"},
            transport=transport,
        )
    if not connection.base_url or not connection.api_key:
        raise ChannelError(
            "The Mirakl instance address and the shop API key must be set on the connector page."
        )
    base = connection.base_url.rstrip("/")
    if not base.endswith("/api"):
        base += "/api"
    return client(base_url=base, headers={"Authorization": connection.api_key, "Accept": "application/json"})


def _params(connection, **params) -> dict:
    if connection.seller_id:
        params["shop_id"] = connection.seller_id
    return params


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ChannelError("Mirakl answered something that is not JSON.", body=response.text) from None
    if not isinstance(body, dict):
        raise ChannelError("Mirakl answered a JSON value that is not an object.", body=response.text)
    return body


def orders_updated(connection, *, since: str) -> list[dict]:
    """OR11: every order updated since ``since`` (ISO 8601), all pages."""
    orders: list[dict] = []
    with _client(connection) as http:
        offset = 0
        while True:
            body = _json(
                send(
                    http,
                    "GET",
                    "/orders",
                    params=_params(
                        connection,
                        start_update_date=since,
                        order_state_codes=STATES,
                        offset=offset,
                        max=PAGE,
                        sort="dateCreated",
                    ),
                )
            )
            page = body.get("orders") or []
            orders.extend(page)
            offset += len(page)
            if not page or offset >= int(body.get("total_count") or 0):
                return orders


def accept(connection, *, order_id: str, decisions: list[tuple[str, bool]]) -> None:
    """OR21: each line accepted or refused."""
    with _client(connection) as http:
        send(
            http,
            "PUT",
            f"/orders/{order_id}/accept",
            params=_params(connection),
            json={"order_lines": [{"id": line_id, "accepted": ok} for line_id, ok in decisions]},
        )


def order_shipped(
    connection,
    *,
    order_id: str,
    carrier: str,
    carrier_name: str,
    tracking: str,
    tracking_url: str,
    complete: bool,
) -> str:
    """OR23 (tracking), then OR24 (shipped) once every parcel has left."""
    tracking_body = {"tracking_number": tracking}
    if carrier:
        tracking_body["carrier_code"] = carrier.upper()
        tracking_body["carrier_name"] = carrier_name or carrier
    if tracking_url:
        tracking_body["carrier_url"] = tracking_url
    with _client(connection) as http:
        send(http, "PUT", f"/orders/{order_id}/tracking", params=_params(connection), json=tracking_body)
        if complete:
            send(http, "PUT", f"/orders/{order_id}/ship", params=_params(connection))
    return tracking


def cancel_lines(connection, *, items: list[dict]) -> list[str]:
    """OR30: cancel quantities of order lines (before shipment). Returns Mirakl's cancellation ids."""
    with _client(connection) as http:
        body = _json(
            send(http, "PUT", "/orders/cancel", params=_params(connection), json={"cancelations": items})
        )
    return [str(c.get("cancelation_id") or c.get("id") or "") for c in body.get("cancelations") or []]


def refund_lines(connection, *, items: list[dict]) -> list[str]:
    """OR28: refund order lines (units and / or an amount). Returns Mirakl's refund ids."""
    with _client(connection) as http:
        body = _json(send(http, "PUT", "/orders/refund", params=_params(connection), json={"refunds": items}))
    return [str(r.get("refund_id") or r.get("id") or "") for r in body.get("refunds") or []]


def cancel_order(connection, *, order_id: str) -> None:
    """OR29: cancel a whole order that has not shipped (it comes back as CANCELED in OR11)."""
    with _client(connection) as http:
        send(http, "PUT", f"/orders/{order_id}/cancel", params=_params(connection))


REASON_TYPES = {"cancellation": "ORDER_CANCEL", "refund": "REFUND"}


def reasons(connection, *, reason_type: str) -> list[dict]:
    """RE02: the marketplace's reasons of a type, as [{"code", "label"}] (those the shop may use)."""
    with _client(connection) as http:
        response = send(http, "GET", f"/reasons/{reason_type}", params=_params(connection))
    try:
        body = response.json()
    except ValueError:
        raise ChannelError("Mirakl answered something that is not JSON.", body=response.text) from None
    rows = body.get("reasons") if isinstance(body, dict) else body
    found = []
    for row in rows or []:
        if not isinstance(row, dict) or not row.get("code") or row.get("shop_right") is False:
            continue
        found.append({"code": str(row["code"])[:64], "label": str(row.get("label") or row["code"])[:200]})
    return found


def offers_quantities(connection, rows: list[tuple[str, int]]) -> str:
    """OF01 in PARTIAL_UPDATE mode: only each offer's quantity changes. Returns Mirakl's import id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(["sku", "quantity", "update-delete"])
    for sku, quantity in rows:
        writer.writerow([sku, max(0, quantity), "update"])
    with _client(connection) as http:
        response = send(
            http,
            "POST",
            "/offers/imports",
            params=_params(connection),
            data={"import_mode": "PARTIAL_UPDATE", "with_products": "false"},
            files={"file": ("offers.csv", buffer.getvalue().encode(), "text/csv")},
        )
    return str(_json(response).get("import_id", ""))


# Mirakl gives ISO 3166 alpha-3 codes; the intake wants alpha-2.
ALPHA3 = {
    "FRA": "FR",
    "BEL": "BE",
    "CHE": "CH",
    "LUX": "LU",
    "MCO": "MC",
    "DEU": "DE",
    "ESP": "ES",
    "ITA": "IT",
    "NLD": "NL",
    "PRT": "PT",
    "AUT": "AT",
    "GBR": "GB",
    "IRL": "IE",
    "GLP": "GP",
    "MTQ": "MQ",
    "REU": "RE",
}


def _country(code) -> str:
    code = str(code or "FR").strip().upper()
    return ALPHA3.get(code, code if len(code) == 2 else "FR")


def lines_to_accept(order: dict) -> list[dict]:
    return [line for line in order.get("order_lines") or [] if line.get("order_line_state") == ACCEPTANCE]


def order_input(order: dict, *, modes: dict, line_ids: set[str] | None = None) -> tuple[OrderInput, str]:
    """The order for the intake, with its lines still to serve (``line_ids``: only these, the accepted
    ones)."""
    if not order.get("order_id"):
        raise InvalidOrder("The payload is not a Mirakl order (no order_id).")
    customer = order.get("customer") or {}
    ship = customer.get("shipping_address") or {}
    address = {
        "name": clip(" ".join(p for p in (ship.get("firstname"), ship.get("lastname")) if p), 200),
        "company": clip(ship.get("company"), 200),
        "line1": clip(ship.get("street_1"), 200),
        "line2": clip(ship.get("street_2"), 200),
        "postcode": clip(ship.get("zip_code"), 16),
        "city": clip(ship.get("city"), 120),
        "country": _country(ship.get("country_iso_code")),
        "phone": clip(ship.get("phone"), 32),
    }
    lines = []
    for index, line in enumerate(order.get("order_lines") or []):
        if line_ids is not None and str(line.get("order_line_id")) not in line_ids:
            continue
        if line.get("order_line_state") in ("REFUSED", "CANCELED"):
            continue
        sku = str(line.get("offer_sku") or "").strip()
        if not sku:
            raise InvalidOrder(
                f"Order line {line.get('order_line_id')} has no offer_sku.",
                details={"order_lines": {str(index): {"offer_sku": ["Required."]}}},
            )
        quantity = int(line.get("quantity") or 0)
        price = line.get("price_unit", line.get("price"))
        lines.append(
            LineInput(
                sku=sku, quantity=quantity, unit_price=Decimal(str(price)) if price is not None else None
            )
        )
    method = str(order.get("shipping_type_label") or order.get("shipping_type_code") or "")
    delivery, mapping = delivery_for(modes=modes, method=method, address=address)
    email = customer.get("email") or order.get("customer_notification_email") or ""
    data = OrderInput(
        external_id=str(order["order_id"]),
        customer={
            "email": clip(email or f"{order['order_id']}@marketplace.mirakl.invalid", 254),
            "first_name": clip(customer.get("firstname"), 100),
            "last_name": clip(customer.get("lastname"), 100),
            "phone": address["phone"],
        },
        delivery=delivery,
        lines=lines,
        purchase_order=str(order.get("commercial_id") or order["order_id"])[:100],
    )
    return data, f"{method or '-'} → {mapping}"


def reference(order: dict) -> str:
    return str(order.get("commercial_id") or order.get("order_id") or "")
