"""Sending e-invoices, our statuses and e-reports to the platforms, and recording the lifecycle statuses they
return (by polling and by webhook).

Never sent twice: each sending is a ``Transmission`` row. The sender *claims* it with a conditional UPDATE
(pending and due → sending, with a lease) before calling the platform outside any transaction, and records
the platform's reference after. A Celery retry or the beat sweep finds it already claimed or sent and does
nothing; a sending whose worker died (lease passed) is first looked up on the platform by our external id. A
platform that is down gives a retryable error: the row goes back to pending with a growing delay.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format

from ..exceptions import TransmissionNotPossible
from ..models import (
    Invoice,
    LifecycleCode,
    LifecycleEvent,
    Nature,
    PlatformState,
    Transmission,
    Treatment,
)
from ..platforms.base import (
    CollectedAmount,
    OutgoingDocument,
    PermanentPlatformError,
    PlatformError,
    RetryablePlatformError,
    StatusUpdate,
)
from ..platforms.registry import get_platform
from ..timeline import timeline_add

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)  # a "sending" row older than this had its worker die
FIRST_WAIT = dt.timedelta(minutes=1)  # the sweep leaves new rows to their on-commit task this long
MAX_DELAY = dt.timedelta(hours=6)
PLATFORM_NAMES = {"sandbox": "Sandbox platform", "superpdp": "SUPER PDP", "chorus": "Chorus Pro"}


def platform_name(code: str) -> str:
    return PLATFORM_NAMES.get(code, code)


def _queue(transmission_id: int, countdown: float | None = None) -> None:
    from ..tasks import send_transmission as send_transmission_task

    if countdown:
        transaction.on_commit(
            lambda: send_transmission_task.apply_async((transmission_id,), countdown=countdown), robust=True
        )
    else:
        transaction.on_commit(lambda: send_transmission_task.delay(transmission_id), robust=True)


def platform_for(document: Invoice) -> str:
    """Which platform carries a document: Chorus Pro for public buyers, the seller's PA for businesses in
    France,
    none for what is e-reported."""
    if document.treatment == Treatment.B2G:
        return "chorus"
    if document.treatment == Treatment.B2B:
        return document.legal_entity.platform or ""
    return ""


# --- Requests ---------------------------------------------------------------------------------------------


def transmission_request_on_issue(*, document: Invoice) -> Transmission | None:
    """The one hook of the issue service: a B2B or B2G document gets its transmission, sent after commit.
    (Later a consumer of the domain event log.)"""
    platform = platform_for(document)
    if not platform:
        return None
    transmission = Transmission.objects.create(
        kind=Transmission.Kind.DOCUMENT, platform=platform, document=document
    )
    timeline_add(
        order=document.order,
        code="einvoice_queued",
        params={"number": document.number, "platform": platform_name(platform)},
    )
    _queue(transmission.pk)
    return transmission


@transaction.atomic
def transmission_request(*, document: Invoice, actor=None) -> Transmission:
    """Send a document by hand (one issued before a platform was set): refused if it is no e-invoice or was
    sent already."""
    platform = platform_for(document)
    if not platform:
        raise TransmissionNotPossible(
            "This document is not sent to a platform (consumer or foreign buyer, or no platform set for the "
            "seller).",
            details={"number": document.number},
        )
    try:
        with transaction.atomic():
            transmission = Transmission.objects.create(
                kind=Transmission.Kind.DOCUMENT, platform=platform, document=document
            )
    except IntegrityError:
        raise TransmissionNotPossible(
            "This document already has its transmission.", details={"number": document.number}
        ) from None
    _queue(transmission.pk)
    return transmission


@transaction.atomic
def transmission_retry(*, transmission: Transmission, actor=None) -> Transmission:
    """Send again a transmission the platform refused (after fixing the cause)."""
    updated = Transmission.objects.filter(pk=transmission.pk, state=Transmission.State.FAILED).update(
        state=Transmission.State.PENDING, next_attempt_at=timezone.now(), last_error=""
    )
    if not updated:
        raise TransmissionNotPossible("Only a refused transmission can be sent again.")
    _queue(transmission.pk)
    transmission.refresh_from_db()
    return transmission


# --- Sending ----------------------------------------------------------------------------------------------


def _backoff(attempts: int, retry_after: float | None) -> dt.timedelta:
    delay = dt.timedelta(minutes=2 ** min(attempts, 9))
    if retry_after:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return min(delay, MAX_DELAY)


def _claim(transmission_id: int) -> Transmission | None:
    now = timezone.now()
    claimed = Transmission.objects.filter(
        pk=transmission_id, state=Transmission.State.PENDING, next_attempt_at__lte=now
    ).update(state=Transmission.State.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    return Transmission.objects.select_related("document__legal_entity", "document__order", "report").get(
        pk=transmission_id
    )


def outgoing_document(transmission: Transmission) -> OutgoingDocument:
    from .render import document_render

    document = document_render(document_id=transmission.document_id)
    if document.einvoice_format == "ubl":
        field, filename = document.ubl, f"{document.number}.xml"
    else:
        field, filename = document.pdf, document.filename
    with field.open("rb") as handle:
        content = handle.read()
    public = document.buyer.get("public") or {}
    return OutgoingDocument(
        external_id=transmission.external_id,
        number=document.number,
        type_code=document.type_code,
        treatment=document.treatment,
        syntax=document.einvoice_format,
        filename=filename,
        content=content,
        seller_siren=document.seller["siren"],
        buyer_siren=document.buyer.get("siren", ""),
        buyer_siret=public.get("siret", ""),
        service_code=public.get("service_code", ""),
        purchase_order=document.purchase_order,
    )


def _collected_amounts(transmission: Transmission) -> list[CollectedAmount]:
    payload = transmission.payload
    return [
        CollectedAmount(
            amount=row["amount"], vat_rate=row["rate"], paid_on=dt.date.fromisoformat(payload["paid_on"])
        )
        for row in payload["amounts"]
    ]


def transmission_send(*, transmission_id: int) -> Transmission | None:
    """Send one transmission if it is due and nobody else is sending it. Retryable errors are raised again
    (after the row is back to pending with its next attempt) for the task to log; permanent ones are kept."""
    transmission = _claim(transmission_id)
    if transmission is None:
        return None
    adapter = get_platform(transmission.platform)
    try:
        if transmission.kind == Transmission.Kind.DOCUMENT:
            ref = adapter.lookup(transmission.external_id) if transmission.attempts > 1 else None
            updates: list[StatusUpdate] = []
            if ref is None:
                result = adapter.send_document(outgoing_document(transmission))
                ref, updates = result.platform_ref, result.updates
        elif transmission.kind == Transmission.Kind.STATUS:
            document_sent = Transmission.objects.filter(
                document_id=transmission.document_id,
                kind=Transmission.Kind.DOCUMENT,
                state=Transmission.State.SENT,
            ).first()
            if document_sent is None:
                raise RetryablePlatformError(
                    "The invoice itself is not on the platform yet.", platform=adapter.code
                )
            ref = adapter.send_status(
                platform_ref=document_sent.platform_ref,
                code=transmission.status_code,
                amounts=_collected_amounts(transmission),
                external_id=transmission.external_id,
            )
            updates = []
        else:
            from .ereporting import ereport_payload

            ref = adapter.send_ereport(
                payload=ereport_payload(transmission.report), external_id=transmission.external_id
            )
            updates = []
    except RetryablePlatformError as exc:
        _failed_for_now(transmission, exc)
        raise
    except (PermanentPlatformError, PlatformError) as exc:
        _failed(transmission, exc)
        return transmission
    _sent(transmission, ref, updates)
    return transmission


def _failed_for_now(transmission: Transmission, exc: RetryablePlatformError) -> None:
    Transmission.objects.filter(pk=transmission.pk, state=Transmission.State.SENDING).update(
        state=Transmission.State.PENDING,
        next_attempt_at=timezone.now() + _backoff(transmission.attempts, exc.retry_after),
        last_error=str(exc)[:2000],
    )


@transaction.atomic
def _failed(transmission: Transmission, exc: PlatformError) -> None:
    Transmission.objects.filter(pk=transmission.pk).update(
        state=Transmission.State.FAILED, last_error=str(exc)[:2000]
    )
    if transmission.document_id:
        timeline_add(
            order=transmission.document.order,
            code="einvoice_send_failed",
            params={
                "number": transmission.document.number,
                "platform": platform_name(transmission.platform),
                "error": exc.message,
            },
        )
    if transmission.kind == Transmission.Kind.EREPORT:
        from ..models import EReport

        EReport.objects.filter(pk=transmission.report_id).update(
            status=EReport.Status.REJECTED, error=exc.message
        )


@transaction.atomic
def _sent(transmission: Transmission, ref: str, updates: list[StatusUpdate]) -> None:
    now = timezone.now()
    Transmission.objects.filter(pk=transmission.pk).update(
        state=Transmission.State.SENT, platform_ref=ref, sent_at=now, last_error=""
    )
    if transmission.kind == Transmission.Kind.DOCUMENT:
        document = transmission.document
        timeline_add(
            order=document.order,
            code="einvoice_sent",
            params={
                "number": document.number,
                "platform": platform_name(transmission.platform),
                "reference": ref,
            },
        )
        for update in updates:
            lifecycle_record(
                document=document,
                update=update,
                source=LifecycleEvent.Source.POLL,
                platform=transmission.platform,
            )
    elif transmission.kind == Transmission.Kind.STATUS:
        document = transmission.document
        lifecycle_record(
            document=document,
            update=StatusUpdate(platform_ref="", code=transmission.status_code, at=now, event_id=""),
            source=LifecycleEvent.Source.SELLER,
            platform=transmission.platform,
        )
        timeline_add(
            order=document.order,
            code="einvoice_collected_sent",
            params={"number": document.number, "platform": platform_name(transmission.platform)},
        )
    else:
        from ..models import EReport

        EReport.objects.filter(pk=transmission.report_id).update(
            status=EReport.Status.SENT, sent_at=now, error=""
        )


def transmissions_sweep(*, limit: int = 200) -> int:
    """Beat: queue again what is due (a broker that was down, a retry delay over) and take back sendings whose
    worker died (lease over). Returns how many were queued."""
    now = timezone.now()
    Transmission.objects.filter(state=Transmission.State.SENDING, next_attempt_at__lt=now).update(
        state=Transmission.State.PENDING, next_attempt_at=now
    )
    due = list(
        Transmission.objects.filter(
            state=Transmission.State.PENDING, next_attempt_at__lte=now, created_at__lte=now - FIRST_WAIT
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    from ..tasks import send_transmission as send_transmission_task

    for pk in due:
        send_transmission_task.delay(pk)
    return len(due)


# --- Statuses ---------------------------------------------------------------------------------------------


def lifecycle_record(
    *, document: Invoice, update: StatusUpdate, source: str, platform: str
) -> LifecycleEvent | None:
    """Store a lifecycle status once (by the platform's event id, else by document, code and time) and put it
    on the order's timeline. Unknown codes are ignored."""
    if update.code not in LifecycleCode.values:
        return None
    try:
        with transaction.atomic():
            event = LifecycleEvent.objects.create(
                document=document,
                code=update.code,
                at=update.at or timezone.now(),
                reason=(update.reason or "")[:4000],
                source=source,
                platform=platform,
                platform_event_id=update.event_id or "",
            )
    except IntegrityError:
        return None
    params = {
        "number": document.number,
        "status": event.get_code_display(),
        "code": event.code,
        "date": date_format(timezone.localtime(event.at), "SHORT_DATETIME_FORMAT"),
    }
    if event.is_problem:
        timeline_add(
            order=document.order, code="einvoice_problem", params={**params, "reason": event.reason or "—"}
        )
    else:
        timeline_add(order=document.order, code="einvoice_status", params=params)
    return event


def _apply(updates: list[StatusUpdate], *, platform: str, source: str) -> int:
    refs = {u.platform_ref for u in updates}
    transmissions = {
        t.platform_ref: t
        for t in Transmission.objects.filter(
            platform=platform, kind=Transmission.Kind.DOCUMENT, platform_ref__in=refs
        ).select_related("document__order")
    }
    recorded = 0
    for update in updates:
        transmission = transmissions.get(update.platform_ref)
        if transmission is None:
            continue  # a document of another system on the same account
        with transaction.atomic():
            if lifecycle_record(
                document=transmission.document, update=update, source=source, platform=platform
            ):
                recorded += 1
    return recorded


FINAL_CODES = {LifecycleCode.REJECTED, LifecycleCode.REFUSED, LifecycleCode.COLLECTED}


def platform_poll(*, platform: str) -> int:
    """Read a platform's new lifecycle statuses from its cursor and record them. Returns how many were new."""
    state, _created = PlatformState.objects.get_or_create(platform=platform)
    pending_refs = list(
        Transmission.objects.filter(
            platform=platform, kind=Transmission.Kind.DOCUMENT, state=Transmission.State.SENT
        )
        .exclude(document__lifecycle__code__in=FINAL_CODES)
        .exclude(document__lifecycle__code=LifecycleCode.DEPOSITED, platform="chorus")
        .values_list("platform_ref", flat=True)
        .distinct()[:200]
    )
    adapter = get_platform(platform)
    try:
        result = adapter.poll(cursor=state.cursor, pending_refs=pending_refs)
    except PlatformError as exc:
        PlatformState.objects.filter(pk=platform).update(last_error=str(exc)[:2000], polled_at=timezone.now())
        raise
    recorded = _apply(result.updates, platform=platform, source=LifecycleEvent.Source.POLL)
    PlatformState.objects.filter(pk=platform).update(
        cursor=result.cursor, polled_at=timezone.now(), last_error=""
    )
    return recorded


def platforms_poll() -> dict[str, int]:
    """Beat: poll every platform that has documents out there."""
    platforms = set(
        Transmission.objects.filter(kind=Transmission.Kind.DOCUMENT, state=Transmission.State.SENT)
        .values_list("platform", flat=True)
        .distinct()
    )
    results = {}
    for platform in sorted(platforms):
        try:
            results[platform] = platform_poll(platform=platform)
        except PlatformError as exc:
            logger.warning("polling %s failed: %s", platform, exc)
            results[platform] = -1
    return results


def webhook_receive(*, platform: str, headers, body: bytes) -> int:
    """A platform's webhook: the adapter checks the signature (``WebhookRejected`` otherwise); the statuses
    are
    recorded once (a webhook delivered twice, or also polled, changes nothing)."""
    adapter = get_platform(platform)
    updates = adapter.parse_webhook(headers=headers, body=body)
    return _apply(updates, platform=platform, source=LifecycleEvent.Source.WEBHOOK)


# --- "Collected" (encaissée) ------------------------------------------------------------------------------


def collected_status_required(document: Invoice) -> bool:
    """The "collected" status (212) is due for a B2B e-invoice of services (VAT due when paid), unless the
    seller opted for VAT on debits. Goods, and sellers on debits, need none."""
    return (
        document.kind == "invoice"
        and document.treatment == Treatment.B2B
        and document.nature in (Nature.SERVICES, Nature.MIXED)
        and not document.seller.get("vat_on_debits")
        and platform_for(document) != ""
    )


def split_by_rate(document: Invoice, amount: Decimal) -> list[dict]:
    """A payment split over the document's VAT rates in proportion of their gross (the last rate takes the
    rounding rest), so the parts add up to the payment."""
    rates = document.vat_breakdown
    total = sum((Decimal(r["gross"]) for r in rates), Decimal("0"))
    parts, left = [], amount
    for index, rate in enumerate(rates):
        if index == len(rates) - 1 or not total:
            share = left
        else:
            share = (amount * Decimal(rate["gross"]) / total).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
        left -= share
        parts.append({"rate": rate["rate"], "amount": f"{share:.2f}"})
    return parts


def collected_request(*, payment) -> Transmission | None:
    document = payment.document
    if not collected_status_required(document):
        return None
    transmission = Transmission.objects.create(
        kind=Transmission.Kind.STATUS,
        platform=platform_for(document),
        document=document,
        payment=payment,
        status_code=LifecycleCode.COLLECTED,
        payload={"paid_on": payment.paid_on.isoformat(), "amounts": split_by_rate(document, payment.amount)},
    )
    _queue(transmission.pk)
    return transmission


def document_problem(document: Invoice) -> LifecycleEvent | None:
    """The refusal or rejection of a document not corrected by a credit note since, if any."""
    problem = (
        document.lifecycle.filter(code__in=[c.value for c in (LifecycleCode.REFUSED, LifecycleCode.REJECTED)])
        .order_by("-at")
        .first()
    )
    if problem is None:
        return None
    if document.credit_notes.filter(created_at__gte=problem.created_at).exists():
        return None
    return problem


def problems_open():
    """Documents refused or rejected and not credited since: the alerts of the e-invoicing page."""
    return (
        LifecycleEvent.objects.filter(code__in=[LifecycleCode.REFUSED, LifecycleCode.REJECTED])
        .exclude(document__credit_notes__created_at__gte=F("created_at"))
        .select_related("document", "document__order")
        .order_by("-at")
        .distinct()
    )
