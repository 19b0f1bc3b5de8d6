"""HubSpot CRM v3 over HTTP (httpx), with a private app's access token (``Authorization: Bearer``).

Endpoints used (developers.hubspot.com, CRM v3 objects API, v4 associations):

- ``POST /crm/v3/objects/contacts/batch/upsert``: contacts by ``idProperty: email`` (create or update);
- ``POST /crm/v3/properties/deals``: the deal property ``oms_order_number`` (unique values), created once, so
  ``POST /crm/v3/objects/deals/batch/upsert`` with ``idProperty: oms_order_number`` never makes a second
  deal for an order, whatever is retried;
- ``POST /crm/v4/associations/deals/contacts/batch/associate/default``: the deal's contact;
- ``POST /crm/v3/objects/line_items/batch/create`` (associated to the deal, type 20 ``line_item_to_deal``)
  and ``/batch/archive`` for the lines replaced;
- ``POST /crm/v3/objects/contacts/gdpr-delete``: a customer erased at their request.

Batch calls take at most 100 inputs. **Rate limits** (private apps): 100 requests per 10 seconds on
Free/Starter accounts, 190 on Professional/Enterprise (``HubspotConnection.burst_limit``), and a daily cap
(250,000 / 650,000 / 1,000,000). The client spaces its requests to stay under the burst limit; a 429 (body
``{"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING" | "DAILY", ...}``) raises
``RateLimited`` with how long to wait (``Retry-After`` when given, else the window left:
``X-HubSpot-RateLimit-Interval-Milliseconds`` for the 10-second policy, an hour for the daily one), and the
push waits that long before going on.
"""

from __future__ import annotations

import time
from collections import deque

import httpx
from django.conf import settings

BATCH_SIZE = 100
LINE_ITEM_TO_DEAL = 20  # HUBSPOT_DEFINED association type


class HubspotError(Exception):
    def __init__(self, message: str, *, status: int | None = None, category: str = ""):
        super().__init__(message)
        self.status, self.category = status, category


class HubspotUnavailable(HubspotError):
    """A network error or a 5xx: try again later."""


class RateLimited(HubspotError):
    def __init__(self, message: str, *, retry_after: float, policy: str = ""):
        super().__init__(message, status=429, category="RATE_LIMIT")
        self.retry_after, self.policy = retry_after, policy


class _Window:
    """At most ``limit`` requests in any 10 seconds (the burst limit), by waiting before a request."""

    def __init__(self, limit: int, *, seconds: float = 10.0, sleep=time.sleep, clock=time.monotonic):
        self.limit, self.seconds, self.sleep, self.clock = max(limit, 1), seconds, sleep, clock
        self.sent: deque[float] = deque()

    def wait(self) -> None:
        now = self.clock()
        while self.sent and self.sent[0] <= now - self.seconds:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            self.sleep(self.sent[0] + self.seconds - now)
            self.sent.popleft()
        self.sent.append(self.clock())


class HubspotClient:
    def __init__(
        self,
        *,
        token: str,
        burst_limit: int = 100,
        transport: httpx.BaseTransport | None = None,
        sleep=time.sleep,
    ):
        base = getattr(settings, "HUBSPOT_API_BASE", "https://api.hubapi.com")
        self.http = httpx.Client(
            base_url=base,
            timeout=httpx.Timeout(20.0, connect=5.0),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            transport=transport,
        )
        # Keep a margin under the account's burst limit (other apps of the account share it).
        self.window = _Window(max(int(burst_limit * 0.9), 1), sleep=sleep)
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: dict, *, ok=(200, 201, 204, 207)) -> dict:
        self.window.wait()
        self.requests += 1
        try:
            response = self.http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise HubspotUnavailable(f"HubSpot could not be reached: {exc}") from exc
        if response.status_code in ok:
            return response.json() if response.content else {}
        raise _error(response)

    # --- The operations -------------------------------------------------------------------------------

    def contacts_upsert(self, inputs: list[dict]) -> list[dict]:
        """``inputs``: ``[{"email", "properties"}]`` → HubSpot's results (``id`` and ``properties.email``)."""
        body = {
            "inputs": [
                {"id": i["email"], "idProperty": "email", "properties": i["properties"]} for i in inputs
            ]
        }
        return self.post("/crm/v3/objects/contacts/batch/upsert", body).get("results", [])

    def deal_property_ensure(self) -> None:
        try:
            self.post(
                "/crm/v3/properties/deals",
                {
                    "name": "oms_order_number",
                    "label": "OMS order number",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "dealinformation",
                    "hasUniqueValue": True,
                },
            )
        except HubspotError as exc:
            if exc.status != 409:  # 409: the property exists already
                raise

    def deals_upsert(self, inputs: list[dict]) -> list[dict]:
        """``inputs``: ``[{"number", "properties"}]``."""
        body = {
            "inputs": [
                {"id": i["number"], "idProperty": "oms_order_number", "properties": i["properties"]}
                for i in inputs
            ]
        }
        return self.post("/crm/v3/objects/deals/batch/upsert", body).get("results", [])

    def deals_associate_contacts(self, pairs: list[tuple[str, str]]) -> None:
        body = {"inputs": [{"from": {"id": deal}, "to": {"id": contact}} for deal, contact in pairs]}
        self.post("/crm/v4/associations/deals/contacts/batch/associate/default", body)

    def line_items_create(self, inputs: list[dict]) -> list[dict]:
        """``inputs``: ``[{"deal", "properties"}]``; results in the same order (HubSpot keeps it)."""
        body = {
            "inputs": [
                {
                    "properties": i["properties"],
                    "associations": [
                        {
                            "to": {"id": i["deal"]},
                            "types": [
                                {
                                    "associationCategory": "HUBSPOT_DEFINED",
                                    "associationTypeId": LINE_ITEM_TO_DEAL,
                                }
                            ],
                        }
                    ],
                }
                for i in inputs
            ]
        }
        return self.post("/crm/v3/objects/line_items/batch/create", body).get("results", [])

    def line_items_archive(self, ids: list[str]) -> None:
        self.post("/crm/v3/objects/line_items/batch/archive", {"inputs": [{"id": i} for i in ids]})

    def contact_gdpr_delete(self, hubspot_id: str) -> None:
        try:
            self.post("/crm/v3/objects/contacts/gdpr-delete", {"objectId": hubspot_id})
        except HubspotError as exc:
            if exc.status != 404:  # already gone
                raise


def _error(response: httpx.Response) -> HubspotError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = str(body.get("message") or response.text[:300] or f"HTTP {response.status_code}")
    if response.status_code == 429:
        policy = str(body.get("policyName") or "")
        retry_after = response.headers.get("Retry-After")
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            wait = float(retry_after)
        elif policy == "DAILY":
            wait = 3600.0
        else:
            interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
            wait = int(interval) / 1000 if interval.isdigit() else 10.0
        return RateLimited(message, retry_after=wait, policy=policy)
    if response.status_code >= 500:
        return HubspotUnavailable(
            message, status=response.status_code, category=str(body.get("category", ""))
        )
    return HubspotError(message, status=response.status_code, category=str(body.get("category", "")))
