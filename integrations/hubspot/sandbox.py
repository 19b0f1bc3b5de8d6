"""A local stand-in for HubSpot (offline demo, ``HubspotConnection.sandbox``): answers the calls the connector
makes with the shapes HubSpot documents, giving ids that stay stable for the same email or order number."""

import hashlib
import json
from datetime import UTC, datetime

import httpx


def _id(text: str) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:10], 16))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    body = json.loads(request.content or b"{}")
    inputs = body.get("inputs", [])
    if path.endswith("/batch/upsert"):
        kind = "contact" if "/contacts/" in path else "deal"
        results = [
            {
                "id": _id(f"{kind}:{i['id']}"),
                "properties": {**i.get("properties", {}), i.get("idProperty", "id"): i["id"]},
                "createdAt": _now(),
                "updatedAt": _now(),
                "archived": False,
                "new": False,
            }
            for i in inputs
        ]
        return httpx.Response(
            200, json={"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        )
    if path.endswith("/line_items/batch/create"):
        results = [
            {
                "id": _id(json.dumps(i, sort_keys=True) + _now()),
                "properties": i.get("properties", {}),
                "createdAt": _now(),
                "updatedAt": _now(),
                "archived": False,
            }
            for i in inputs
        ]
        return httpx.Response(
            201, json={"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        )
    if path == "/crm/v3/properties/deals":
        return httpx.Response(
            409,
            json={
                "status": "error",
                "message": "Property already exists",
                "category": "OBJECT_ALREADY_EXISTS",
            },
        )
    if path.endswith("/batch/associate/default"):
        return httpx.Response(
            200, json={"status": "COMPLETE", "results": [], "startedAt": _now(), "completedAt": _now()}
        )
    return httpx.Response(204)


def transport() -> httpx.MockTransport:
    return httpx.MockTransport(handler)
