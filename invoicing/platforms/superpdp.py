"""SUPER PDP (api.superpdp.tech), a plateforme agréée with a public API (v1.beta), written from its public
documentation and official examples (github.com/superpdp/examples):

- OAuth 2 client credentials: ``POST /oauth2/token`` (``grant_type=client_credentials``, ``client_id``,
  ``client_secret``) → ``{access_token, token_type, expires_in}`` (30 minutes); the sandbox or production is
  chosen by the credentials, not the URL.
- Send: ``POST /v1.beta/invoices?external_id=…&processing_rule=B2B`` with the raw file as the body (the
  Factur-X PDF as ``application/pdf``, or the UBL/CII XML) → the invoice object ``{id, …, events: [...]}``.
  Processing is asynchronous.
- Lifecycle: ``GET /v1.beta/invoice_events?starting_after_id=<cursor>`` → ``{data: [{id, invoice_id,
  status_code, status_text, created_at}], has_after}``; ids strictly increase. ``fr:2xx`` are the official
  statuses (``fr:200`` deposited … ``fr:212`` collected, ``fr:213`` rejected); ``api:*`` and ``ppf:*`` are
  the platform's own steps and are skipped.
- Our statuses: ``POST /v1.beta/invoice_events`` ``{invoice_id, status_code: "fr:212", details:
  [{reported_data: [{amount, currency_code, type_code: "MEN", value_percent, date}]}]}``.
- Webhooks are announced but not available ("à venir"): statuses come by polling (beat task). The aggregated
  e-reporting flows are not in the public v1.beta API either: ``send_ereport`` says so.
"""

from __future__ import annotations

import time

from django.utils.dateparse import parse_datetime

from .base import (
    OutgoingDocument,
    PlatformAdapter,
    PollResult,
    RetryablePlatformError,
    SendResult,
    StatusUpdate,
)

DEFAULT_URL = "https://api.superpdp.tech"
MAX_PAGES = 20


def _message(response) -> str:
    data = response.json()
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or data.get("detail") or "")
    return ""


class SuperPdpAdapter(PlatformAdapter):
    code = "superpdp"
    name = "SUPER PDP"

    _token: tuple[str, float] | None = None

    @property
    def base_url(self) -> str:
        return (self.config.get("url") or DEFAULT_URL).rstrip("/")

    def _access_token(self) -> str:
        if self._token and self._token[1] > time.monotonic() + 30:
            return self._token[0]
        client_id, client_secret = self.require("client_id", "client_secret")
        response = self.request(
            "POST",
            f"{self.base_url}/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
            error_message=_message,
        )
        data = response.json()
        self._token = (data["access_token"], time.monotonic() + float(data.get("expires_in", 1800)))
        return self._token[0]

    def _headers(self, **extra) -> dict:
        return {"Authorization": f"Bearer {self._access_token()}", **extra}

    def send_document(self, document: OutgoingDocument) -> SendResult:
        rule = {"B2B": "B2B", "B2BINT": "B2BInt"}.get(document.treatment, "B2C")
        response = self.request(
            "POST",
            f"{self.base_url}/v1.beta/invoices",
            params={"external_id": document.external_id[:36], "processing_rule": rule},
            content=document.content,
            headers=self._headers(**{"Content-Type": document.content_type}),
            error_message=_message,
        )
        data = response.json()
        if "id" not in data:
            raise RetryablePlatformError("SUPER PDP answered without an invoice id.", platform=self.code)
        ref = str(data["id"])
        return SendResult(platform_ref=ref, updates=self._updates(data.get("events") or []))

    def _updates(self, events: list[dict]) -> list[StatusUpdate]:
        updates = []
        for event in events:
            code = str(event.get("status_code") or "")
            if not code.startswith("fr:"):
                continue
            updates.append(
                StatusUpdate(
                    platform_ref=str(event["invoice_id"]),
                    code=code.removeprefix("fr:"),
                    at=parse_datetime(event["created_at"]),
                    reason=event.get("status_text") or "",
                    event_id=str(event["id"]),
                )
            )
        return updates

    def poll(self, *, cursor: str, pending_refs: list[str]) -> PollResult:
        updates: list[StatusUpdate] = []
        for _page in range(MAX_PAGES):
            params = {"starting_after_id": cursor} if cursor else {}
            response = self.request(
                "GET",
                f"{self.base_url}/v1.beta/invoice_events",
                params=params,
                headers=self._headers(),
                error_message=_message,
            )
            data = response.json()
            events = data.get("data") or []
            updates.extend(self._updates(events))
            if events:
                cursor = str(events[-1]["id"])
            if not data.get("has_after") or not events:
                break
        return PollResult(updates=updates, cursor=cursor)

    def send_status(self, *, platform_ref: str, code: str, amounts, external_id: str) -> str:
        body = {
            "invoice_id": int(platform_ref),
            "status_code": f"fr:{code}",
            "details": [
                {
                    "reported_data": [
                        {
                            "amount": a.amount,
                            "currency_code": "EUR",
                            "type_code": "MEN",
                            "value_percent": a.vat_rate,
                            "date": a.paid_on.isoformat(),
                        }
                        for a in amounts
                    ]
                }
            ],
        }
        response = self.request(
            "POST",
            f"{self.base_url}/v1.beta/invoice_events",
            json=body,
            headers=self._headers(),
            error_message=_message,
        )
        return str(response.json().get("id", ""))
