"""A simulated WMS: a real HTTP server on 127.0.0.1 speaking the generic JSON protocol of
``fulfillment/wms.py``, as a 3PL's system would. Tests queue its shipment confirmations and stock counts and
read what it received."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class SimulatedWms:
    def __init__(self, *, api_key: str = "wms-secret"):
        self.api_key = api_key
        self.requests: dict[str, dict] = {}  # id -> the fulfilment request received
        self.idempotency: dict[str, str] = {}  # Idempotency-Key -> id
        self.cancelled: list[str] = []
        self.shipped: set[str] = set()  # request ids the WMS already shipped (cannot cancel)
        self.shipments: list[dict] = []  # confirmations served by GET /shipments, oldest first
        self.stock: dict | None = None
        self.calls: list[tuple[str, str]] = []
        self.fail_next: int | None = None  # answer this status to the next call
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _guard(self) -> bool:
                with server.lock:
                    server.calls.append((self.command, self.path))
                    if server.fail_next is not None:
                        status, server.fail_next = server.fail_next, None
                        self._answer(status, {"error": "simulated failure"})
                        return False
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._answer(401, {"error": "bad API key"})
                    return False
                return True

            def do_POST(self):
                if not self._guard():
                    return
                if urlparse(self.path).path != "/fulfilment-requests":
                    return self._answer(404, {"error": "no such endpoint"})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                key = self.headers.get("Idempotency-Key", "")
                with server.lock:
                    if key in server.idempotency:  # a retry: the same answer, nothing created twice
                        return self._answer(200, {"id": server.idempotency[key]})
                    request_id = f"WMS-{len(server.requests) + 1:04d}"
                    server.requests[request_id] = body
                    server.idempotency[key] = request_id
                self._answer(201, {"id": request_id})

            def do_DELETE(self):
                if not self._guard():
                    return
                request_id = urlparse(self.path).path.rsplit("/", 1)[-1]
                with server.lock:
                    if request_id not in server.requests:
                        return self._answer(404, {"error": "unknown request"})
                    if request_id in server.shipped:
                        return self._answer(409, {"error": "already shipped"})
                    server.cancelled.append(request_id)
                self._answer(204)

            def do_GET(self):
                if not self._guard():
                    return
                url = urlparse(self.path)
                if url.path == "/shipments":
                    since = int((parse_qs(url.query).get("since") or ["0"])[0] or 0)
                    with server.lock:
                        page = server.shipments[since:]
                        return self._answer(200, {"shipments": page, "cursor": str(since + len(page))})
                if url.path == "/stock":
                    return self._answer(200, server.stock or {})
                self._answer(404, {"error": "no such endpoint"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def ship(self, request_id: str, *, shipment_id: str, parcels: list[dict]) -> None:
        """The WMS packed and handed parcels over for a request (a part of it, or all)."""
        with self.lock:
            order_number = self.requests[request_id]["order_number"]
            self.shipped.add(request_id)
            self.shipments.append(
                {
                    "id": shipment_id,
                    "order_number": order_number,
                    "shipped_at": "2026-12-04T15:00:00+01:00",
                    "parcels": parcels,
                }
            )
