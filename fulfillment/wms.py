"""Adapters to the WMS of outsourced locations (3PL): a generic JSON-over-HTTP API, and CSV files dropped in
a shared folder (what many 3PLs exchange). Both speak the same four operations; the services
(``services/outsourced.py``) never see which one they use.

JSON over HTTP (``Authorization: Bearer <API key>``, JSON bodies):

- ``POST {base}/fulfilment-requests`` with ``Idempotency-Key: oms-request-<id>`` and the request (order
  number, recipient, carrier, lines with SKU, EAN, name, quantity); answers 200/201 ``{"id": "..."}``.
- ``DELETE {base}/fulfilment-requests/{id}``: cancel; 200/204, or 409 when the WMS already shipped it.
- ``GET {base}/shipments?since=<cursor>``: ``{"shipments": [{"id", "order_number", "shipped_at",
  "parcels": [{"carrier", "service", "tracking_number", "tracking_url", "weight_g", "lines": [{"sku",
  "quantity"}]}]}], "cursor": "<next>"}``, oldest first.
- ``GET {base}/stock``: ``{"id", "taken_at", "lines": [{"sku", "quantity"}]}``: the latest stock count.

CSV drop (``;``-separated, UTF-8, a header row):

- we write ``out/ORDER_<order>_<request id>.csv`` (one row per line: order_number, line, sku, ean, name,
  quantity, ship_name, ship_company, ship_line1, ship_line2, ship_postcode, ship_city, ship_country,
  ship_phone, email, relay_id, carrier, service) and ``out/CANCEL_<order>_<request id>.csv``
  (order_number, reference), written to a temporary name first then renamed, so the WMS never reads half
  a file;
- the WMS writes ``in/SHIPMENTS_*.csv`` (shipment_id, order_number, parcel, carrier, service,
  tracking_number, weight_g, sku, quantity: one row per SKU of a parcel) and ``in/STOCK_*.csv`` (sku,
  quantity; the file's name is the snapshot's id, its modification time when it was taken). A file read and
  applied is moved to ``in/done/``.
"""

import csv
import io
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from django.utils.dateparse import parse_datetime

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
ORDER_COLUMNS = [
    "order_number",
    "line",
    "sku",
    "ean",
    "name",
    "quantity",
    "ship_name",
    "ship_company",
    "ship_line1",
    "ship_line2",
    "ship_postcode",
    "ship_city",
    "ship_country",
    "ship_phone",
    "email",
    "relay_id",
    "carrier",
    "service",
]


class WmsError(Exception):
    """The WMS refused (bad key, unknown request, invalid data, a malformed answer): retrying the same call
    will not help; shown with its payload on the connector page."""

    def __init__(self, message: str, *, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body[:2000]


class WmsUnavailable(Exception):
    """A network error, a timeout, a 5xx or a 429: tried again later."""


class AlreadyShipped(WmsError):
    """The WMS cannot cancel: the request already left."""


@dataclass
class ParcelIn:
    carrier: str
    tracking_number: str
    lines: list[tuple[str, int]]  # (sku, quantity)
    service: str = ""
    tracking_url: str = ""
    weight_g: int | None = None


@dataclass
class ShipmentIn:
    external_id: str
    order_number: str
    parcels: list[ParcelIn]
    payload: dict
    shipped_at: datetime | None = None
    source: str = ""  # the file it came from (CSV)
    error: str = ""  # malformed: kept with its payload, never applied


def _parcels_or_error(rows) -> tuple[list[ParcelIn], str]:
    try:
        return [_parcel(p) for p in rows or []], ""
    except WmsError as exc:
        return [], str(exc)


@dataclass
class SnapshotIn:
    external_id: str
    taken_at: datetime
    lines: list[tuple[str, int]]
    source: str = ""


@dataclass
class Batch:
    shipments: list[ShipmentIn] = field(default_factory=list)
    cursor: str = ""


def _int(value, what: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise WmsError(f"{what} is not a whole number: {value!r}.") from None
    return number


def _parcel(data: dict) -> ParcelIn:
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list) or not data["lines"]:
        raise WmsError("A parcel needs its lines.", body=str(data))
    return ParcelIn(
        carrier=str(data.get("carrier") or ""),
        service=str(data.get("service") or ""),
        tracking_number=str(data.get("tracking_number") or ""),
        tracking_url=str(data.get("tracking_url") or ""),
        weight_g=_int(data["weight_g"], "weight_g") if data.get("weight_g") not in (None, "") else None,
        lines=[(str(x.get("sku", "")), _int(x.get("quantity"), "quantity")) for x in data["lines"]],
    )


class HttpJsonWms:
    def __init__(self, partner):
        self.partner = partner
        transport = None
        if getattr(partner, "sandbox", False):  # the offline simulation (wms_sandbox.py)
            from .wms_sandbox import wms_transport

            transport = wms_transport(partner)
        self.client = httpx.Client(
            base_url=(partner.base_url or "https://wms.sandbox.invalid").rstrip("/"),
            headers={"Authorization": f"Bearer {partner.api_key}", "Accept": "application/json"},
            timeout=TIMEOUT,
            transport=transport,
        )

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise WmsUnavailable(f"Timeout calling {url}.") from exc
        except httpx.TransportError as exc:
            raise WmsUnavailable(f"Network error calling {url}: {exc}.") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise WmsUnavailable(f"{method} {url} answered {response.status_code}.")
        if response.status_code >= 400:
            error = AlreadyShipped if (method == "DELETE" and response.status_code == 409) else WmsError
            raise error(
                f"{method} {url} answered {response.status_code}.",
                status=response.status_code,
                body=response.text,
            )
        return response

    def _json(self, response: httpx.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            raise WmsError("The WMS answered something that is not JSON.", body=response.text) from None
        if not isinstance(data, dict):
            raise WmsError("The WMS answered a JSON value that is not an object.", body=response.text)
        return data

    def send_request(self, *, request_id: int, payload: dict) -> str:
        response = self._send(
            "POST",
            "/fulfilment-requests",
            json=payload,
            headers={"Idempotency-Key": f"oms-request-{request_id}"},
        )
        reference = self._json(response).get("id")
        if not reference:
            raise WmsError("The WMS did not give the request's id.", body=response.text)
        return str(reference)

    def cancel_request(self, *, request_id: int, reference: str, order_number: str) -> None:
        self._send("DELETE", f"/fulfilment-requests/{reference}")

    def fetch_shipments(self, *, cursor: str) -> Batch:
        response = self._send("GET", "/shipments", params={"since": cursor} if cursor else {})
        data = self._json(response)
        rows = data.get("shipments")
        if not isinstance(rows, list):
            raise WmsError("The answer has no list of shipments.", body=response.text)
        shipments = []
        for row in rows:
            if not isinstance(row, dict) or not row.get("id") or not row.get("order_number"):
                raise WmsError("A shipment needs its id and order number.", body=str(row))
            parcels, error = _parcels_or_error(row.get("parcels"))
            shipments.append(
                ShipmentIn(
                    external_id=str(row["id"]),
                    order_number=str(row["order_number"]),
                    parcels=parcels,
                    payload=row,
                    shipped_at=parse_datetime(str(row.get("shipped_at") or "")) or None,
                    error=error,
                )
            )
        return Batch(shipments=shipments, cursor=str(data.get("cursor") or cursor))

    def fetch_snapshot(self) -> SnapshotIn | None:
        response = self._send("GET", "/stock")
        data = self._json(response)
        if not data.get("id"):
            return None
        taken_at = parse_datetime(str(data.get("taken_at") or ""))
        if taken_at is None:
            raise WmsError("The stock snapshot has no valid taken_at.", body=response.text[:500])
        lines = data.get("lines")
        if not isinstance(lines, list):
            raise WmsError("The stock snapshot has no lines.", body=response.text[:500])
        return SnapshotIn(
            external_id=str(data["id"]),
            taken_at=taken_at,
            lines=[(str(x.get("sku", "")), _int(x.get("quantity"), "quantity")) for x in lines],
        )

    def done(self, source: str) -> None:
        """Nothing to archive over HTTP (the cursor moves on)."""

    def close(self) -> None:
        self.client.close()


class CsvDropWms:
    def __init__(self, partner):
        self.partner = partner
        self.root = Path(partner.drop_dir)
        if not partner.drop_dir or not self.root.is_dir():
            raise WmsUnavailable(f"The shared folder {partner.drop_dir!r} is not reachable.")
        for sub in ("out", "in", "in/done"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _write(self, name: str, header: list[str], rows: list[list]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        target = self.root / "out" / name
        temporary = self.root / "out" / f".{name}.part"
        temporary.write_text(buffer.getvalue(), encoding="utf-8")
        os.replace(temporary, target)  # the WMS never sees half a file

    def send_request(self, *, request_id: int, payload: dict) -> str:
        name = f"ORDER_{payload['order_number']}_{request_id}.csv"
        to = payload.get("recipient") or {}
        rows = [
            [
                payload["order_number"],
                line["line"],
                line["sku"],
                line.get("ean", ""),
                line.get("name", ""),
                line["quantity"],
                to.get("name", ""),
                to.get("company", ""),
                to.get("line1", ""),
                to.get("line2", ""),
                to.get("postcode", ""),
                to.get("city", ""),
                to.get("country", ""),
                to.get("phone", ""),
                to.get("email", ""),
                to.get("relay_id", ""),
                payload.get("carrier", ""),
                payload.get("service", ""),
            ]
            for line in payload["lines"]
        ]
        self._write(name, ORDER_COLUMNS, rows)
        return name

    def cancel_request(self, *, request_id: int, reference: str, order_number: str) -> None:
        self._write(
            f"CANCEL_{order_number}_{request_id}.csv",
            ["order_number", "reference"],
            [[order_number, reference]],
        )

    def _files(self, prefix: str) -> list[Path]:
        return sorted(p for p in (self.root / "in").glob(f"{prefix}*.csv") if p.is_file())

    def _rows(self, path: Path, needed: set[str]) -> list[dict]:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise WmsError(f"{path.name} cannot be read: {exc}.") from exc
        reader = csv.DictReader(io.StringIO(text), delimiter=";")
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise WmsError(f"{path.name} lacks the columns {', '.join(sorted(missing))}.", body=text[:2000])
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]

    def fetch_shipments(self, *, cursor: str) -> Batch:
        batch = Batch(cursor=cursor)
        needed = {"shipment_id", "order_number", "parcel", "carrier", "tracking_number", "sku", "quantity"}
        for path in self._files("SHIPMENTS_"):
            grouped: dict[str, dict] = {}
            for row in self._rows(path, needed):
                shipment = grouped.setdefault(
                    row["shipment_id"],
                    {"id": row["shipment_id"], "order_number": row["order_number"], "parcels": {}},
                )
                parcel = shipment["parcels"].setdefault(
                    row["parcel"],
                    {
                        "carrier": row["carrier"],
                        "service": row.get("service", ""),
                        "tracking_number": row["tracking_number"],
                        "weight_g": row.get("weight_g") or None,
                        "lines": [],
                    },
                )
                parcel["lines"].append({"sku": row["sku"], "quantity": row["quantity"]})
            for shipment in grouped.values():
                payload = {**shipment, "parcels": list(shipment["parcels"].values()), "file": path.name}
                parcels, error = _parcels_or_error(payload["parcels"])
                batch.shipments.append(
                    ShipmentIn(
                        external_id=shipment["id"],
                        order_number=shipment["order_number"],
                        parcels=parcels,
                        payload=payload,
                        source=path.name,
                        error=error,
                    )
                )
        return batch

    def fetch_snapshot(self) -> SnapshotIn | None:
        files = self._files("STOCK_")
        if not files:
            return None
        path = files[-1]  # the newest name; older ones are superseded
        rows = self._rows(path, {"sku", "quantity"})
        for older in files[:-1]:
            self.done(older.name)
        return SnapshotIn(
            external_id=path.stem,
            taken_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
            lines=[(row["sku"], _int(row["quantity"], "quantity")) for row in rows],
            source=path.name,
        )

    def done(self, source: str) -> None:
        """A file read and applied: moved to in/done/ (kept for the record)."""
        if source and (self.root / "in" / source).exists():
            os.replace(self.root / "in" / source, self.root / "in" / "done" / source)

    def close(self) -> None:
        pass


def adapter_for(partner):
    if partner.adapter == partner.Adapter.CSV_DROP:
        return CsvDropWms(partner)
    return HttpJsonWms(partner)
