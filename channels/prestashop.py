"""PrestaShop: no webhooks, so a beat task polls the webservice for orders changed since a cursor
(``filter[date_upd]``), and stock is pushed to ``stock_availables``. Auth: HTTP Basic with the webservice
key as user and an empty password; ``output_format=JSON`` for reads (writes are XML)."""

import httpx

from orders.exceptions import InvalidOrder
from orders.services.intake import LineInput, OrderInput

from .http import ChannelError, client, send
from .mapping import clip, delivery_for, money, obj, objects

PAGE = 100


def _client(connection):
    if not connection.base_url or not connection.access_token:
        raise ChannelError("The shop address and the webservice key must be set on the connector page.")
    return client(
        base_url=connection.base_url.rstrip("/") + "/api",
        auth=httpx.BasicAuth(connection.access_token, ""),
    )


def _list(body, name: str) -> list:
    # An empty result is ``[]`` rather than ``{"orders": []}``.
    rows = body.get(name, []) if isinstance(body, dict) else []
    return rows if isinstance(rows, list) else []


def _json(response):
    try:
        return response.json()
    except ValueError:
        raise ChannelError(
            f"PrestaShop answered {response.request.url.path} with something that is not JSON.",
            status=response.status_code,
            body=response.text,
        ) from None


def _has_id(row) -> bool:
    return isinstance(row, dict) and isinstance(row.get("id"), int | str)


def _by_ids(http, resource: str, ids, display: str) -> dict[str, dict]:
    ids = sorted({str(i) for i in ids if i and str(i) != "0"})
    if not ids:
        return {}
    response = send(
        http,
        "GET",
        f"/{resource}",
        params={"output_format": "JSON", "display": display, "filter[id]": "[" + "|".join(ids) + "]"},
    )
    return {str(row["id"]): row for row in _list(_json(response), resource) if _has_id(row)}


def orders_changed(connection, *, since: str, until: str) -> list[dict]:
    """Orders whose ``date_upd`` is in [since, until], oldest change first (a page of ``PAGE``), each with
    ``_customer``, ``_address``, ``_country`` and ``_carrier`` attached."""
    with _client(connection) as http:
        response = send(
            http,
            "GET",
            "/orders",
            params={
                "output_format": "JSON",
                "display": "full",
                "date": "1",
                "filter[date_upd]": f"[{since},{until}]",
                "sort": "[date_upd_ASC,id_ASC]",
                "limit": f"0,{PAGE}",
            },
        )
        # A row that is not an order object is returned as it is: stored, it becomes a failed delivery.
        orders = _list(_json(response), "orders")
        rows = [o for o in orders if isinstance(o, dict)]
        customers = _by_ids(
            http, "customers", [_ref(o.get("id_customer")) for o in rows], "[id,email,firstname,lastname]"
        )
        addresses = _by_ids(http, "addresses", [_ref(o.get("id_address_delivery")) for o in rows], "full")
        countries = _by_ids(
            http, "countries", [_ref(a.get("id_country")) for a in addresses.values()], "[id,iso_code]"
        )
        carriers = _by_ids(http, "carriers", [_ref(o.get("id_carrier")) for o in rows], "[id,name]")
    for order in rows:
        address = addresses.get(str(order.get("id_address_delivery")), {})
        order["_customer"] = customers.get(str(order.get("id_customer")), {})
        order["_address"] = address
        order["_country"] = countries.get(str(address.get("id_country")), {}).get("iso_code", "FR")
        order["_carrier"] = carriers.get(str(order.get("id_carrier")), {}).get("name", "")
    return orders


def _ref(value) -> str:
    """An id the payload refers to, as text; an id that is not a plain number or string counts as none."""
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""


def order_input(order: dict, *, modes: dict) -> tuple[OrderInput, str]:
    if not order.get("id"):
        raise InvalidOrder("The payload is not a PrestaShop order (no id).", details={"id": ["Required."]})
    customer = obj(order.get("_customer"), field="customer")
    source = obj(order.get("_address"), field="address")
    address = {
        "name": clip(" ".join(p for p in (source.get("firstname"), source.get("lastname")) if p), 200),
        "company": clip(source.get("company"), 200),
        "line1": clip(source.get("address1"), 200),
        "line2": clip(source.get("address2"), 200),
        "postcode": clip(source.get("postcode"), 16),
        "city": clip(source.get("city"), 120),
        "country": clip(order.get("_country") or "FR", 8),
        "phone": clip(source.get("phone_mobile") or source.get("phone"), 32),
    }
    lines = []
    associations = obj(order.get("associations"), field="associations")
    rows = objects(associations.get("order_rows"), field="associations.order_rows")
    for index, row in enumerate(rows):
        sku = str(row.get("product_reference") or "").strip()
        if not sku:
            raise InvalidOrder(
                f"Order row {row.get('id')} ({row.get('product_name', '')}) has no reference.",
                details={"order_rows": {str(index): {"product_reference": ["Required."]}}},
            )
        try:
            quantity = int(row.get("product_quantity"))
        except (TypeError, ValueError):
            raise InvalidOrder(
                f"Order row {row.get('id')}: quantity {row.get('product_quantity')!r} is not a whole number.",
                details={"order_rows": {str(index): {"quantity": ["Invalid."]}}},
            ) from None
        lines.append(
            LineInput(
                sku=sku,
                quantity=quantity,
                unit_price=money(
                    row.get("unit_price_tax_incl", "0"), field=f"order_rows[{index}].unit_price_tax_incl"
                ),
            )
        )
    delivery, mapping = delivery_for(modes=modes, method=order.get("_carrier", ""), address=address)
    data = OrderInput(
        external_id=str(order["id"]),
        customer={
            "email": clip(customer.get("email"), 254),
            "first_name": clip(customer.get("firstname"), 100),
            "last_name": clip(customer.get("lastname"), 100),
            "phone": address["phone"],
        },
        delivery=delivery,
        lines=lines,
    )
    return data, f"{order.get('_carrier') or '-'} → {mapping}"


def reference(order: dict) -> str:
    return str(order.get("reference") or order.get("id") or "")


def stock_availables(connection, skus: list[str]) -> dict[str, dict]:
    """SKU (product reference) → its stock_available row (simple products: id_product_attribute 0)."""
    found: dict[str, dict] = {}
    with _client(connection) as http:
        for start in range(0, len(skus), PAGE):
            chunk = [s for s in skus[start : start + PAGE] if "|" not in s and "]" not in s]
            if not chunk:
                continue
            response = send(
                http,
                "GET",
                "/products",
                params={
                    "output_format": "JSON",
                    "display": "[id,reference]",
                    "filter[reference]": "[" + "|".join(chunk) + "]",
                },
            )
            products = {str(p["id"]): p["reference"] for p in _list(response.json(), "products")}
            if not products:
                continue
            response = send(
                http,
                "GET",
                "/stock_availables",
                params={
                    "output_format": "JSON",
                    "display": "full",
                    "filter[id_product]": "[" + "|".join(products) + "]",
                    "filter[id_product_attribute]": "[0]",
                },
            )
            for row in _list(response.json(), "stock_availables"):
                sku = products.get(str(row.get("id_product")))
                if sku:
                    found[sku] = row
    return found


FIELDS = (
    "id",
    "id_product",
    "id_product_attribute",
    "id_shop",
    "id_shop_group",
    "quantity",
    "depends_on_stock",
    "out_of_stock",
    "location",
)


def stock_set(connection, rows: list[tuple[dict, int]]) -> None:
    """PUT each stock_available with its new quantity (the whole resource, as the webservice wants it)."""
    with _client(connection) as http:
        for row, quantity in rows:
            values = {**row, "quantity": quantity, "depends_on_stock": 0}
            inner = "".join(
                f"<{f}><![CDATA[{str(values.get(f, '') or '').replace(']]>', '')}]]></{f}>"
                for f in FIELDS
                if f in values
            )
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f"<prestashop><stock_available>{inner}</stock_available></prestashop>"
            )
            send(
                http,
                "PUT",
                f"/stock_availables/{row['id']}",
                content=body.encode(),
                headers={"Content-Type": "application/xml"},
            )
