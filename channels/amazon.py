"""Amazon Selling Partner API (SP-API): orders polled incrementally, shipments confirmed, quantities pushed.

- **Auth**: Login with Amazon (LWA) ``POST https://api.amazon.com/auth/o2/token`` with
  ``grant_type=refresh_token`` (the seller's refresh token, the app's client id and secret) gives an access
  token for an hour, sent as ``x-amz-access-token``; kept in the cache until a minute before it expires.
  Buyers' addresses and e-mails are restricted data: a restricted data token (Tokens API
  ``POST /tokens/2021-03-01/restrictedDataToken`` for ``GET /orders/v0/orders`` with the ``buyerInfo`` and
  ``shippingAddress`` data elements) replaces the access token on the ``getOrders`` calls.
- **Orders** (Orders API v0): ``GET /orders/v0/orders`` with ``MarketplaceIds`` and ``LastUpdatedAfter``,
  then ``NextToken`` pages; ``GET /orders/v0/orders/{id}/orderItems`` (also paged by ``NextToken``).
  ``OrderStatus``: Pending (not paid: not reserved, taken when it becomes Unshipped), Unshipped,
  PartiallyShipped, Shipped, Canceled (cancelled here too), Unfulfillable; orders fulfilled by Amazon
  (``FulfillmentChannel`` AFN) are not ours to prepare.
- **Shipment confirmation**: ``POST /orders/v0/orders/{id}/shipmentConfirmation`` with ``packageDetail``
  (``packageReferenceId``, ``carrierCode``, ``trackingNumber``, ``shipDate``, ``orderItems``) and
  ``marketplaceId``; one call per parcel.
- **Quantities**: Listings Items API ``PATCH /listings/2021-08-01/items/{sellerId}/{sku}`` replacing
  ``/attributes/fulfillment_availability`` (``fulfillment_channel_code`` DEFAULT, ``quantity``).
- **Rate limits**: each operation has its documented rate (requests per second restored) and burst; a token
  bucket per channel and operation waits before calling (at most ``MAX_WAIT`` seconds, else the task is
  retried later), and a 429 (its ``x-amzn-RateLimit-Limit`` header gives the current rate) backs off
  exponentially before trying again.
"""

import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import httpx

from common.cache import cache_get, cache_set
from orders.exceptions import InvalidOrder
from orders.services.intake import LineInput, OrderInput

from .http import TIMEOUT, ChannelError, ChannelUnavailable
from .mapping import clip, delivery_for

LWA_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
# Documented usage plans (requests per second restored, burst).
RATES = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "createRestrictedDataToken": (1.0, 10),
    "confirmShipment": (2.0, 10),
    "patchListingsItem": (5.0, 10),
}
MAX_WAIT = 5.0  # seconds a call may wait for its bucket; longer: the task is retried later
MAX_RETRIES = 3  # after a 429
BACKOFF = 1.0  # first wait after a 429, doubled each time
CARRIER_CODES = {
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "dpd": "DPD",
    "dpd_fr": "DPD",
    "gls": "GLS",
    "ups": "UPS",
    "dhl": "DHL",
    "dhl_express": "DHL",
    "fedex": "FedEx",
    "mondial_relay": "Mondial Relay",
    "laposte": "La Poste",
}
IMPORT_STATUSES = {"Unshipped", "PartiallyShipped", "Shipped"}
CANCEL_STATUSES = {"Canceled"}

_sleep = time.sleep  # tests replace it


class _Bucket:
    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


_buckets: dict[tuple[int, str], _Bucket] = {}
_lock = threading.Lock()


def _throttle(channel_id: int, operation: str) -> None:
    """Wait for the operation's bucket (this process's share of the seller's rate)."""
    rate, burst = RATES[operation]
    with _lock:
        bucket = _buckets.setdefault((channel_id, operation), _Bucket(rate, burst))
        wait = bucket.wait_time()
        if wait > MAX_WAIT:
            raise ChannelUnavailable(f"Amazon {operation}: rate limit, next call possible in {wait:.0f} s.")
        bucket.take()
    if wait:
        _sleep(wait)


def _slow_down(channel_id: int, operation: str, response: httpx.Response) -> None:
    """A 429: Amazon says the current rate in ``x-amzn-RateLimit-Limit``; the bucket follows it."""
    with _lock:
        bucket = _buckets.setdefault((channel_id, operation), _Bucket(*RATES[operation]))
        try:
            bucket.rate = float(response.headers.get("x-amzn-RateLimit-Limit", bucket.rate))
        except ValueError:
            pass
        bucket.tokens = 0


def reset_buckets() -> None:
    with _lock:
        _buckets.clear()


# --- Auth ------------------------------------------------------------------------------------------------


def _token_key(connection) -> str:
    return f"amazon:lwa:{connection.channel_id}"


def access_token(connection, *, fresh: bool = False) -> str:
    """An LWA access token for the seller: from the cache, or refreshed with the refresh token."""
    from .sandbox import transport_for

    transport = transport_for(connection)
    if transport is not None:  # the offline sandbox: its own token endpoint, no credentials needed
        with httpx.Client(transport=transport, timeout=TIMEOUT) as http:
            return http.post(LWA_URL, data={"grant_type": "refresh_token"}).json()["access_token"]
    if not (connection.refresh_token and connection.api_key and connection.api_secret):
        raise ChannelError(
            "The LWA client id, client secret and refresh token must be set on the connector page."
        )
    if not fresh:
        cached = cache_get(_token_key(connection))
        if cached:
            return cached
    try:
        response = httpx.post(
            LWA_URL,
            data={
                "grant_type": "refresh_token",
                "refresh_token": connection.refresh_token,
                "client_id": connection.api_key,
                "client_secret": connection.api_secret,
            },
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise ChannelUnavailable(f"Login with Amazon unreachable: {exc}.") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise ChannelUnavailable(f"Login with Amazon answered {response.status_code}.")
    if response.status_code >= 400:
        raise ChannelError(
            "Login with Amazon refused the refresh token.", status=response.status_code, body=response.text
        )
    body = response.json()
    token = body.get("access_token")
    if not token:
        raise ChannelError("Login with Amazon gave no access token.", body=response.text)
    cache_set(_token_key(connection), token, timeout=max(60, int(body.get("expires_in", 3600)) - 60))
    return token


@dataclass
class Api:
    connection: object

    def __post_init__(self):
        self.base = (self.connection.base_url or DEFAULT_ENDPOINT).rstrip("/")
        if not self.base.startswith("http"):
            self.base = f"https://{self.base}"
        from .sandbox import transport_for

        self.client = httpx.Client(
            base_url=self.base, timeout=TIMEOUT, transport=transport_for(self.connection)
        )

    def close(self) -> None:
        self.client.close()

    def call(self, operation: str, method: str, url: str, *, token: str | None = None, **kwargs) -> dict:
        """One SP-API call under its rate limit: retried after a 429 (backing off) and once after a 403
        whose access token expired."""
        refreshed = False
        for attempt in range(MAX_RETRIES + 1):
            if not getattr(self.connection, "sandbox", False):  # the in-process sandbox has no quota to keep
                _throttle(self.connection.channel_id, operation)
            headers = {
                "x-amz-access-token": token or access_token(self.connection),
                "accept": "application/json",
            }
            try:
                response = self.client.request(method, url, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                raise ChannelUnavailable(f"Amazon {operation}: timeout.") from exc
            except httpx.TransportError as exc:
                raise ChannelUnavailable(f"Amazon {operation}: network error {exc}.") from exc
            if response.status_code == 429:
                _slow_down(self.connection.channel_id, operation, response)
                if attempt == MAX_RETRIES:
                    raise ChannelUnavailable(
                        f"Amazon {operation}: still throttled (429) after {attempt} retries."
                    )
                _sleep(BACKOFF * 2**attempt)
                continue
            if (
                response.status_code == 403
                and token is None
                and not refreshed
                and "expired" in response.text.lower()
            ):
                access_token(self.connection, fresh=True)
                refreshed = True
                continue
            if response.status_code >= 500:
                raise ChannelUnavailable(f"Amazon {operation} answered {response.status_code}.")
            if response.status_code >= 400:
                raise ChannelError(
                    f"Amazon {operation} answered {response.status_code}.",
                    status=response.status_code,
                    body=response.text,
                )
            if not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                raise ChannelError(
                    f"Amazon {operation}: the answer is not JSON.", body=response.text
                ) from None
        raise ChannelUnavailable(
            f"Amazon {operation}: gave up."
        )  # pragma: no cover - the loop returns or raises


# --- Orders ----------------------------------------------------------------------------------------------


def restricted_token(api: Api) -> str:
    body = api.call(
        "createRestrictedDataToken",
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        json={
            "restrictedResources": [
                {
                    "method": "GET",
                    "path": "/orders/v0/orders",
                    "dataElements": ["buyerInfo", "shippingAddress"],
                }
            ]
        },
    )
    token = body.get("restrictedDataToken")
    if not token:
        raise ChannelError("The Tokens API gave no restricted data token.", body=str(body)[:2000])
    return token


def order_items(api: Api, order_id: str) -> list[dict]:
    items, next_token = [], None
    while True:
        params = {"NextToken": next_token} if next_token else {}
        body = api.call("getOrderItems", "GET", f"/orders/v0/orders/{order_id}/orderItems", params=params)
        payload = body.get("payload") or {}
        items.extend(payload.get("OrderItems") or [])
        next_token = payload.get("NextToken")
        if not next_token:
            return items


def orders_updated(connection, *, since: str) -> tuple[list[dict], str]:
    """The orders updated after ``since`` (ISO 8601), every page, each with its items (``_items``); and the
    cursor for next time (Amazon's ``LastUpdatedBefore``, else the newest ``LastUpdateDate`` seen)."""
    if not connection.marketplace_id:
        raise ChannelError(
            "The Amazon marketplace id must be set on the connector page (A13V1IB3VIYZZH: amazon.fr)."
        )
    api = Api(connection)
    try:
        rdt = restricted_token(api)
        orders, next_token, cursor = [], None, since
        while True:
            params = {"MarketplaceIds": connection.marketplace_id}
            if next_token:
                params["NextToken"] = next_token
            else:
                params["LastUpdatedAfter"] = since
            body = api.call("getOrders", "GET", "/orders/v0/orders", token=rdt, params=params)
            payload = body.get("payload") or {}
            page = [o for o in payload.get("Orders") or [] if isinstance(o, dict)]
            orders.extend(page)
            cursor = payload.get("LastUpdatedBefore") or max(
                [cursor, *(str(o.get("LastUpdateDate") or "") for o in page)]
            )
            next_token = payload.get("NextToken")
            if not next_token:
                break
        for order in orders:
            if order.get("FulfillmentChannel") != "AFN" and order.get("OrderStatus") in IMPORT_STATUSES:
                order["_items"] = order_items(api, order["AmazonOrderId"])
    finally:
        api.close()
    return orders, cursor


def order_input(order: dict, *, modes: dict) -> tuple[OrderInput, str]:
    if not order.get("AmazonOrderId"):
        raise InvalidOrder("The payload is not an Amazon order (no AmazonOrderId).")
    ship = order.get("ShippingAddress") or {}
    buyer = order.get("BuyerInfo") or {}
    address = {
        "name": clip(ship.get("Name"), 200),
        "company": clip(ship.get("CompanyName"), 200),
        "line1": clip(ship.get("AddressLine1"), 200),
        "line2": clip(" ".join(p for p in (ship.get("AddressLine2"), ship.get("AddressLine3")) if p), 200),
        "postcode": clip(ship.get("PostalCode"), 16),
        "city": clip(ship.get("City"), 120),
        "country": clip(ship.get("CountryCode") or "FR", 8),
        "phone": clip(ship.get("Phone"), 32),
    }
    lines = []
    for index, item in enumerate(order.get("_items") or []):
        sku = str(item.get("SellerSKU") or "").strip()
        if not sku:
            raise InvalidOrder(
                f"Item {item.get('OrderItemId')} has no SellerSKU.",
                details={"OrderItems": {str(index): {"SellerSKU": ["Required."]}}},
            )
        quantity = int(item.get("QuantityOrdered") or 0)
        if quantity <= 0:
            continue  # an item cancelled on Amazon before we took the order
        price = (item.get("ItemPrice") or {}).get("Amount")
        lines.append(
            LineInput(
                sku=sku,
                quantity=quantity,
                unit_price=(Decimal(str(price)) / quantity).quantize(Decimal("0.01"))
                if price is not None
                else None,
            )
        )
    method = str(order.get("ShipmentServiceLevelCategory") or "Standard")
    delivery, mapping = delivery_for(modes=modes, method=method, address=address)
    name = address["name"].split(" ", 1)
    data = OrderInput(
        external_id=str(order["AmazonOrderId"]),
        customer={
            "email": clip(
                buyer.get("BuyerEmail") or f"{order['AmazonOrderId']}@marketplace.amazon.invalid", 254
            ),
            "first_name": clip(name[0] if len(name) > 1 else "", 100),
            "last_name": clip(name[-1], 100),
            "phone": address["phone"],
        },
        delivery=delivery,
        lines=lines,
        purchase_order=str(order["AmazonOrderId"]),
    )
    return data, f"{method} → {mapping}"


def reference(order: dict) -> str:
    return str(order.get("AmazonOrderId") or "")


# --- Shipments and quantities ------------------------------------------------------------------------------


def confirm_shipment(
    connection,
    *,
    order_id: str,
    package_id: int,
    carrier: str,
    tracking: str,
    ship_date: str,
    items: list[tuple[str, int]],
) -> None:
    """One parcel: ``items`` are (OrderItemId, quantity)."""
    code = CARRIER_CODES.get(carrier.lower(), "Other")
    detail = {
        "packageReferenceId": str(package_id),
        "carrierCode": code,
        "trackingNumber": tracking,
        "shipDate": ship_date,
        "orderItems": [{"orderItemId": item_id, "quantity": quantity} for item_id, quantity in items],
    }
    if code == "Other":
        detail["carrierName"] = carrier or "Other"
    api = Api(connection)
    try:
        api.call(
            "confirmShipment",
            "POST",
            f"/orders/v0/orders/{order_id}/shipmentConfirmation",
            json={"packageDetail": detail, "marketplaceId": connection.marketplace_id},
        )
    finally:
        api.close()


def quantities_set(connection, rows: list[tuple[str, int]]) -> list[str]:
    """Each SKU's quantity (``fulfillment_availability``); returns the SKUs Amazon refused (unknown
    listing...), which are reported, not retried."""
    if not connection.seller_id:
        raise ChannelError("The Amazon seller id (merchant token) must be set on the connector page.")
    refused = []
    api = Api(connection)
    try:
        for sku, quantity in rows:
            try:
                api.call(
                    "patchListingsItem",
                    "PATCH",
                    f"/listings/2021-08-01/items/{connection.seller_id}/{httpx.URL(path=sku).raw_path.decode()}",
                    params={"marketplaceIds": connection.marketplace_id, "issueLocale": "fr_FR"},
                    json={
                        "productType": "PRODUCT",
                        "patches": [
                            {
                                "op": "replace",
                                "path": "/attributes/fulfillment_availability",
                                "value": [
                                    {"fulfillment_channel_code": "DEFAULT", "quantity": max(0, quantity)}
                                ],
                            }
                        ],
                    },
                )
            except ChannelError as exc:
                if exc.status in (400, 404):
                    refused.append(sku)
                    continue
                raise
    finally:
        api.close()
    return refused
