"""Offline sandboxes of the marketplaces (Amazon SP-API, Mirakl): a connector whose ``sandbox`` box is ticked
talks to an in-process simulation of the documented API (an ``httpx.MockTransport``) instead of the network.
The adapters' own code runs unchanged (requests built, answers read, pages, tokens), so the demo's
``make run`` (SQLite, eager tasks) polls realistic orders, accepts them, confirms shipments and pushes
quantities with no account and nothing leaving the process.

The simulated marketplace is stateless and deterministic: one order per ``SLOT`` (an hour) of the last day,
its id and lines derived from the slot, made of products the channel's locations hold. An order is first
waiting (Mirakl WAITING_ACCEPTANCE, Amazon Pending), then, ``SETTLE`` later, accepted and paid (Mirakl
SHIPPING, Amazon Unshipped), so a poll sees both states as time goes by. Writes (acceptance, tracking,
shipment, quantities) are accepted with the documented answers."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory.models import StockLevel
from orders.services.sourcing import channel_location_ids

SLOT = timedelta(hours=1)
SETTLE = timedelta(minutes=10)
HORIZON = timedelta(days=1)
NAMES = [
    ("Camille", "Martin", "12 rue de la République", "69002", "Lyon"),
    ("Hugo", "Bernard", "3 place du Capitole", "31000", "Toulouse"),
    ("Léa", "Dubois", "27 cours Mirabeau", "13100", "Aix-en-Provence"),
    ("Louis", "Moreau", "8 quai des Chartrons", "33000", "Bordeaux"),
    ("Chloé", "Laurent", "45 rue Nationale", "59800", "Lille"),
    ("Nathan", "Simon", "2 allée Jean Jaurès", "44000", "Nantes"),
]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digits(*parts) -> int:
    return int(hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:12], 16)


def _skus(channel_id: int) -> list[tuple[str, str]]:
    """(SKU, price) of the products the channel's locations hold, in a stable order."""
    from orders.models import Channel

    locations = channel_location_ids(channel=Channel.objects.get(pk=channel_id))
    rows = (
        StockLevel.objects.filter(location_id__in=locations, on_hand__gt=0, product__is_kit=False)
        .values_list("product__sku", "product__price")
        .distinct()
        .order_by("product__sku")
    )
    return [(sku, str(price or "19.90")) for sku, price in rows[:50]]


def _slots(*, since: str, now: datetime) -> list[tuple[datetime, bool, datetime]]:
    """(created, settled, last updated) of each simulated order updated after ``since``."""
    start = parse_datetime(since or "") or now - HORIZON
    if timezone.is_naive(start):
        start = start.replace(tzinfo=UTC)
    start = max(start, now - HORIZON)
    epoch = int(now.timestamp()) // int(SLOT.total_seconds())
    slots = []
    for index in range(epoch - int(HORIZON / SLOT), epoch + 1):
        created = datetime.fromtimestamp(index * SLOT.total_seconds(), tz=UTC)
        settled = created + SETTLE <= now
        updated = created + SETTLE if settled else created
        if updated > start:
            slots.append((created, settled, updated))
    return slots


def _lines(channel_id: int, created: datetime) -> list[tuple[str, str, int]]:
    skus = _skus(channel_id)
    if not skus:
        return []
    seed = _digits(channel_id, created.isoformat())
    count = 1 + seed % 2
    return [
        (*skus[(seed // (7 + i)) % len(skus)], 1 + (seed >> (i + 3)) % 2)
        for i in range(min(count, len(skus)))
    ]


def _json(data, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=data)


# --- Mirakl ------------------------------------------------------------------------------------------------


def _mirakl_order(channel_id: int, created: datetime, settled: bool, updated: datetime) -> dict | None:
    lines = _lines(channel_id, created)
    if not lines:
        return None
    seed = _digits("mirakl", channel_id, created.isoformat())
    first, last, street, postcode, city = NAMES[seed % len(NAMES)]
    order_id = f"SBX{channel_id}-{int(created.timestamp()) // 3600}-A"
    state = "SHIPPING" if settled else "WAITING_ACCEPTANCE"
    return {
        "order_id": order_id,
        "commercial_id": order_id.rsplit("-", 1)[0],
        "order_state": state,
        "created_date": _iso(created),
        "last_updated_date": _iso(updated),
        "acceptance_decision_date": _iso(created + timedelta(days=1)),
        "shipping_type_code": "STD",
        "shipping_type_label": "Standard",
        "currency_iso_code": "EUR",
        "customer_notification_email": f"{order_id.lower()}@customers.sandbox.invalid",
        "customer": {
            "customer_id": f"C-{seed % 10000}",
            "firstname": first,
            "lastname": last,
            "shipping_address": {
                "firstname": first,
                "lastname": last,
                "street_1": street,
                "zip_code": postcode,
                "city": city,
                "country_iso_code": "FRA",
                "phone": "0600000000",
            },
        },
        "order_lines": [
            {
                "order_line_id": f"{order_id}-{index}",
                "offer_sku": sku,
                "quantity": quantity,
                "price_unit": float(price),
                "order_line_state": state,
                "cancelations": [],
                "refunds": [],
            }
            for index, (sku, price, quantity) in enumerate(lines, start=1)
        ],
    }


def mirakl_transport(channel_id: int) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api")
        method = request.method
        if method == "GET" and path == "/orders":
            params = request.url.params
            orders = [
                o
                for created, settled, updated in _slots(
                    since=params.get("start_update_date", ""), now=timezone.now()
                )
                if (o := _mirakl_order(channel_id, created, settled, updated))
            ]
            offset, size = int(params.get("offset") or 0), int(params.get("max") or 100)
            return _json({"orders": orders[offset : offset + size], "total_count": len(orders)})
        if (
            method == "PUT"
            and path.startswith("/orders/")
            and path.rsplit("/", 1)[-1]
            in (
                "accept",
                "tracking",
                "ship",
            )
        ):
            json.loads(request.content or b"{}")  # a body that is not JSON would be refused (400)
            return httpx.Response(204)
        if method == "PUT" and path in ("/orders/cancel", "/orders/refund"):
            # OR30 / OR28: each entry created, with an id of its own (OR11 of the sandbox lists none of them)
            key, id_key = (
                ("cancelations", "cancelation_id") if path.endswith("cancel") else ("refunds", "refund_id")
            )
            entries = json.loads(request.content or b"{}").get(key) or []
            answer = [
                {**entry, id_key: f"SBX-{id_key[0].upper()}-{_digits(request.content, i) % 10**8}"}
                for i, entry in enumerate(entries)
            ]
            return _json({"order_tax_mode": "TAX_INCLUDED", key: answer})
        if method == "PUT" and path.startswith("/orders/") and path.endswith("/cancel"):
            return httpx.Response(204)  # OR29
        if method == "GET" and path.startswith("/reasons/"):
            kind = path.rsplit("/", 1)[-1]
            labels = {
                "ORDER_CANCEL": [("34", "Article indisponible"), ("35", "Demande du client")],
                "REFUND": [("40", "Geste commercial"), ("41", "Retour produit")],
            }.get(kind, [])
            return _json(
                {
                    "reasons": [
                        {"code": c, "label": lbl, "type": kind, "shop_right": True} for c, lbl in labels
                    ]
                }
            )
        if method == "POST" and path == "/offers/imports":
            return _json({"import_id": _digits(channel_id, timezone.now().isoformat()) % 100000}, 201)
        return _json({"status": 404, "message": f"No sandbox route for {method} {path}."}, 404)

    return httpx.MockTransport(handle)


# --- Amazon ------------------------------------------------------------------------------------------------


def _amazon_id(channel_id: int, created: datetime) -> str:
    seed = _digits("amazon", channel_id, created.isoformat())
    return f"40{channel_id % 10}-{seed % 10_000_000:07d}-{(seed // 10_000_000) % 10_000_000:07d}"


def _amazon_order(channel_id: int, created: datetime, settled: bool, updated: datetime) -> dict | None:
    lines = _lines(channel_id, created)
    if not lines:
        return None
    seed = _digits("amazon", channel_id, created.isoformat())
    first, last, street, postcode, city = NAMES[seed % len(NAMES)]
    total = sum(float(price) * quantity for _sku, price, quantity in lines)
    order_id = _amazon_id(channel_id, created)
    return {
        "AmazonOrderId": order_id,
        "PurchaseDate": _iso(created),
        "LastUpdateDate": _iso(updated),
        "OrderStatus": "Unshipped" if settled else "Pending",
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.fr",
        "ShipmentServiceLevelCategory": "Standard",
        "OrderTotal": {"CurrencyCode": "EUR", "Amount": f"{total:.2f}"},
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": sum(q for _s, _p, q in lines),
        "MarketplaceId": "A13V1IB3VIYZZH",
        "BuyerInfo": {"BuyerEmail": f"{order_id}@marketplace.amazon.invalid"},
        "ShippingAddress": {
            "Name": f"{first} {last}",
            "AddressLine1": street,
            "PostalCode": postcode,
            "City": city,
            "CountryCode": "FR",
            "Phone": "0600000000",
        },
    }


def amazon_transport(channel_id: int) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if request.url.host == "api.amazon.com" and path == "/auth/o2/token":
            return _json({"access_token": "Atza|sandbox", "token_type": "bearer", "expires_in": 3600})
        if method == "POST" and path == "/tokens/2021-03-01/restrictedDataToken":
            return _json({"restrictedDataToken": "Atz.sprdt|sandbox", "expiresIn": 3600})
        if method == "GET" and path == "/orders/v0/orders":
            now = timezone.now()
            orders = [
                o
                for created, settled, updated in _slots(
                    since=request.url.params.get("LastUpdatedAfter", ""), now=now
                )
                if (o := _amazon_order(channel_id, created, settled, updated))
            ]
            return _json(
                {"payload": {"Orders": orders, "LastUpdatedBefore": _iso(now - timedelta(minutes=2))}}
            )
        if method == "GET" and path.startswith("/orders/v0/orders/") and path.endswith("/orderItems"):
            order_id = path.split("/")[4]
            for created, _settled, _updated in _slots(since="", now=timezone.now()):
                if _amazon_id(channel_id, created) == order_id:
                    items = [
                        {
                            "ASIN": f"B0SBX{index:05d}",
                            "SellerSKU": sku,
                            "OrderItemId": f"{order_id.replace('-', '')[:10]}{index:04d}",
                            "QuantityOrdered": quantity,
                            "QuantityShipped": 0,
                            "ItemPrice": {"CurrencyCode": "EUR", "Amount": f"{float(price) * quantity:.2f}"},
                        }
                        for index, (sku, price, quantity) in enumerate(_lines(channel_id, created), start=1)
                    ]
                    return _json({"payload": {"AmazonOrderId": order_id, "OrderItems": items}})
            return _json({"errors": [{"code": "InvalidInput", "message": "Unknown order."}]}, 404)
        if method == "POST" and path.endswith("/shipmentConfirmation"):
            return httpx.Response(204)
        if method == "PATCH" and path.startswith("/listings/2021-08-01/items/"):
            return _json({"sku": path.rsplit("/", 1)[-1], "status": "ACCEPTED", "submissionId": "sbx"})
        return _json({"errors": [{"code": "NotFound", "message": f"No sandbox route for {path}."}]}, 404)

    return httpx.MockTransport(handle)


def transport_for(connection) -> httpx.MockTransport | None:
    """The simulated marketplace of a sandbox connector, None for a real one."""
    if not getattr(connection, "sandbox", False):
        return None
    from orders.models import Channel

    kind = connection.channel.kind
    if kind == Channel.Kind.MIRAKL:
        return mirakl_transport(connection.channel_id)
    if kind == Channel.Kind.AMAZON:
        return amazon_transport(connection.channel_id)
    return None
