"""The offline sandbox of the JSON-over-HTTP WMS (``wms.py``): a partner whose ``sandbox`` box is ticked
talks to an in-process simulation of the documented API (an ``httpx.MockTransport``), so the demo's 3PL
location works with no WMS and nothing leaving the process; ``HttpJsonWms`` runs unchanged.

The simulated 3PL accepts every fulfilment request (``{"id": "SBX-<request id>"}``) and cancellation, and
ships each request it accepted ``SHIP_AFTER`` later in one parcel (Colissimo, a sandbox tracking number),
read back by ``GET /shipments?since=<request id>``. It reads what it was sent from our own request rows
(its memory): stateless, deterministic, nothing to store. ``GET /stock`` has no count to give."""

from datetime import UTC, timedelta

import httpx
from django.utils import timezone

SHIP_AFTER = timedelta(minutes=2)
PREFIX = "SBX-"


def wms_transport(partner) -> httpx.MockTransport:
    from .models import FulfilmentRequest

    def handle(request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if method == "POST" and path.endswith("/fulfilment-requests"):
            key = request.headers.get("Idempotency-Key", "")
            return httpx.Response(201, json={"id": PREFIX + key.removeprefix("oms-request-")})
        if method == "DELETE" and "/fulfilment-requests/" in path:
            return httpx.Response(204)
        if method == "GET" and path.endswith("/shipments"):
            since = request.url.params.get("since", "")
            after = int(since) if since.isdigit() else 0
            rows = (
                FulfilmentRequest.objects.filter(
                    partner_id=partner.pk,
                    pk__gt=after,
                    reference__startswith=PREFIX,
                    sent_at__lte=timezone.now() - SHIP_AFTER,
                )
                .exclude(status=FulfilmentRequest.Status.CANCELLED)
                .order_by("pk")[:100]
            )
            shipments, cursor = [], since
            for row in rows:
                lines = [{"sku": x["sku"], "quantity": x["quantity"]} for x in row.payload.get("lines", [])]
                shipments.append(
                    {
                        "id": f"SHP-{row.pk}",
                        "order_number": row.payload.get("order_number", ""),
                        "shipped_at": (row.sent_at + SHIP_AFTER).astimezone(UTC).isoformat(),
                        "parcels": [
                            {
                                "carrier": row.payload.get("carrier") or "colissimo",
                                "service": row.payload.get("service") or "",
                                "tracking_number": f"6A{row.pk:011d}",
                                "tracking_url": "",
                                "weight_g": 500 * max(1, sum(x["quantity"] for x in lines)),
                                "lines": lines,
                            }
                        ],
                    }
                )
                cursor = str(row.pk)
            return httpx.Response(200, json={"shipments": shipments, "cursor": cursor})
        if method == "GET" and path.endswith("/stock"):
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"error": f"No sandbox route for {method} {path}."})

    return httpx.MockTransport(handle)
