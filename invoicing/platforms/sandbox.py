"""The sandbox platform: what a plateforme agréée does, made locally, for the demo and the tests.

- **Sending**: the file is checked as a PA checks it (the XML extracted from the Factur-X PDF, or the UBL,
  against its XSD): a broken file is *rejected* (213) with the reason, a good one is *deposited* (200), then
  *received* (202) and *made available* to the buyer (203). A second sending with the same external id gives
  back the same reference (idempotent, as a retried task needs). ``SANDBOX_PA_DOWN`` makes every call fail
  as a platform that is down (HTTP 503), to see the retries.
- **The buyer's side**: ``buyer_decision`` records what the buyer decides (approved 205, refused 210 with a
  reason, payment sent 211…), from the demo's e-invoicing page or a test, and delivers it by webhook when
  ``SANDBOX_PA_WEBHOOK_SECRET`` is set.
- **Polling**: every event after the cursor, oldest first (ids strictly increasing, as real platforms do).
- **Webhooks**: ``{"events": [{"id", "document_ref", "code", "at", "reason"}]}`` signed in the
  ``X-Sandbox-PA-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``, refused
  beyond 5 minutes of skew.
- **Statuses of ours** ("collected", 212) and **e-reports** are stored like documents.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .base import (
    OutgoingDocument,
    PermanentPlatformError,
    PlatformAdapter,
    PollResult,
    RetryablePlatformError,
    SendResult,
    StatusUpdate,
    WebhookRejected,
)

SIGNATURE_HEADER = "X-Sandbox-PA-Signature"
TOLERANCE_SECONDS = 300


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class SandboxAdapter(PlatformAdapter):
    code = "sandbox"
    name = "Sandbox platform"
    supports_webhook = True
    supports_ereporting = True

    def _models(self):
        from ..models import SandboxEvent, SandboxMessage

        return SandboxMessage, SandboxEvent

    def _check_up(self):
        if self.config.get("down"):
            raise RetryablePlatformError("Service unavailable (HTTP 503)", platform=self.code, status=503)

    def _store(self, *, external_id: str, kind: str, number: str, syntax: str, content: bytes):
        SandboxMessage, _event = self._models()
        try:
            with transaction.atomic():
                return SandboxMessage.objects.create(
                    external_id=external_id, kind=kind, number=number, syntax=syntax, content=content
                ), True
        except IntegrityError:
            return SandboxMessage.objects.get(external_id=external_id), False

    def send_document(self, document: OutgoingDocument) -> SendResult:
        self._check_up()
        SandboxMessage, SandboxEvent = self._models()
        message, created = self._store(
            external_id=document.external_id,
            kind="document",
            number=document.number,
            syntax=document.syntax,
            content=document.content,
        )
        if created:
            now = timezone.now()
            problem = self._check_file(document)
            codes = [("213", problem)] if problem else [("200", ""), ("202", ""), ("203", "")]
            SandboxEvent.objects.bulk_create(
                [SandboxEvent(message=message, code=code, at=now, reason=reason) for code, reason in codes]
            )
        return SendResult(platform_ref=f"SBX-{message.pk}", updates=self._updates(message.events.all()))

    def _check_file(self, document: OutgoingDocument) -> str:
        from ..services.validation import XmlInvalid, check_xsd

        try:
            if document.syntax == "facturx":
                import facturx

                _name, xml = facturx.get_xml_from_pdf(io.BytesIO(document.content), check_xsd=False)
                if not xml:
                    return "No factur-x.xml in the PDF."
            else:
                xml = document.content
            check_xsd(xml)
        except XmlInvalid as exc:
            return f"{exc} {'; '.join(exc.errors[:3])}"
        except Exception as exc:  # unreadable PDF or XML
            return f"Unreadable file: {exc}"
        return ""

    def lookup(self, external_id: str) -> str | None:
        SandboxMessage, _event = self._models()
        message = SandboxMessage.objects.filter(external_id=external_id).first()
        return f"SBX-{message.pk}" if message else None

    def _updates(self, events) -> list[StatusUpdate]:
        return [
            StatusUpdate(
                platform_ref=f"SBX-{event.message_id}",
                code=event.code,
                at=event.at,
                reason=event.reason,
                event_id=str(event.pk),
            )
            for event in events
        ]

    def poll(self, *, cursor: str, pending_refs: list[str]) -> PollResult:
        self._check_up()
        _message, SandboxEvent = self._models()
        after = int(cursor or 0)
        events = list(
            SandboxEvent.objects.filter(pk__gt=after, message__kind="document").order_by("pk")[:500]
        )
        return PollResult(updates=self._updates(events), cursor=str(events[-1].pk) if events else str(after))

    def send_status(self, *, platform_ref: str, code: str, amounts, external_id: str) -> str:
        self._check_up()
        SandboxMessage, SandboxEvent = self._models()
        message = SandboxMessage.objects.filter(pk=_ref_id(platform_ref)).first()
        if message is None:
            raise PermanentPlatformError(f"Unknown document {platform_ref}.", platform=self.code, status=404)
        total = sum(float(a.amount) for a in amounts)
        event = SandboxEvent.objects.create(
            message=message, code=code, at=timezone.now(), reason=f"{total:.2f} EUR ({external_id})"
        )
        return str(event.pk)

    def send_ereport(self, *, payload: dict, external_id: str) -> str:
        self._check_up()
        for key in ("seller", "kind", "period", "lines"):
            if key not in payload:
                raise PermanentPlatformError(
                    f"Missing {key} in the e-report.", platform=self.code, status=400
                )
        message, _created = self._store(
            external_id=external_id,
            kind="ereport",
            number=f"{payload['kind']}-{payload['period']['start']}-v{payload.get('version', 1)}",
            syntax="json",
            content=json.dumps(payload, sort_keys=True).encode(),
        )
        return f"SBX-{message.pk}"

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        secret = self.config.get("webhook_secret") or ""
        if not secret:
            raise WebhookRejected("Sandbox webhooks are off (no secret set).", platform=self.code, status=403)
        header = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()) or ""
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise WebhookRejected("Missing or malformed signature.", platform=self.code, status=401) from None
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise WebhookRejected("Signature too old.", platform=self.code, status=401)
        expected = sign(body, secret, timestamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookRejected("Bad signature.", platform=self.code, status=401)
        try:
            data = json.loads(body)
            return [
                StatusUpdate(
                    platform_ref=str(item["document_ref"]),
                    code=str(item["code"]),
                    at=parse_datetime(item["at"]),
                    reason=item.get("reason", ""),
                    event_id=str(item["id"]),
                )
                for item in data["events"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(f"Unreadable webhook body: {exc}", platform=self.code, status=400) from exc


def _ref_id(platform_ref: str) -> int:
    try:
        return int(platform_ref.removeprefix("SBX-"))
    except ValueError:
        return 0


def buyer_decision(*, platform_ref: str, code: str, reason: str = "", config: dict | None = None) -> dict:
    """The buyer's side of the sandbox: record a decision on a document (205 approved, 207 disputed, 210
    refused, 211 payment sent…) and return its webhook call ``{"headers", "body"}`` (signed when a secret is
    set), which the caller delivers to our endpoint."""
    from ..models import SandboxEvent, SandboxMessage

    message = SandboxMessage.objects.get(pk=_ref_id(platform_ref), kind="document")
    event = SandboxEvent.objects.create(message=message, code=code, at=timezone.now(), reason=reason)
    body = json.dumps(
        {
            "events": [
                {
                    "id": event.pk,
                    "document_ref": platform_ref,
                    "code": code,
                    "at": event.at.isoformat(),
                    "reason": reason,
                }
            ]
        }
    ).encode()
    secret = (config or {}).get("webhook_secret") or ""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return {"headers": headers, "body": body, "event_id": event.pk}
