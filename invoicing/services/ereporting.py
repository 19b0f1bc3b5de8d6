"""E-reporting: what is not e-invoiced is reported as data, per period, on the deadlines of the seller's VAT
regime, through the seller's platform.

- **Transactions**: sales to consumers (B2C, in France or abroad) aggregated per day, treatment, category
  (TLB1 goods, TPS1 services subject to VAT) and VAT rate; sales to businesses abroad (B2BINT) one line per
  invoice and rate. A document counts on its date of operation (delivery date, BT-72); credit notes count
  negative on the date of the operation they correct.
- **Payments**: for services whose VAT is due when paid (the seller did not opt for VAT on debits), the
  payments of consumers and foreign buyers per day and rate (B2B ones travel as the "collected" status).
- **Periods and deadlines** (décret 2022-1299 as amended): real regime with monthly returns, transactions by
  ten-day period (1–10 due the 20th, 11–20 due the last day of the month, 21–end due the 10th of the next
  month) and payments by month (due the 10th of the next month); real regime with quarterly returns,
  both monthly, due the 10th of the next month; simplified regime, both monthly, due the 30th of the next
  month; VAT exemption (franchise), both every two months, due the 30th of the month after.
- **Review and corrections**: beat generates the report of each ended period as a draft, to review on its
  page, and sends it (by hand, or by itself on its deadline). Until sent, a draft is brought up to date. Once
  sent, a document that arrives late in its period (a late credit note, an invoice issued after the period
  closed) makes a correction: version 2 of the period, with the whole corrected figures, replacing the first.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..exceptions import EReportNotSendable
from ..models import (
    EReport,
    EReportLine,
    Invoice,
    LegalEntity,
    Nature,
    Payment,
    Transmission,
    Treatment,
    VatRegime,
)
from .transmission import _queue, split_by_rate

EREPORTED = (Treatment.B2C, Treatment.B2CINT, Treatment.B2BINT)
CATEGORIES = {Nature.GOODS: "TLB1", Nature.SERVICES: "TPS1"}
ZERO = Decimal("0.00")


# --- Periods ----------------------------------------------------------------------------------------------


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_month(day: dt.date, on: int) -> dt.date:
    first = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return first.replace(day=min(on, calendar.monthrange(first.year, first.month)[1]))


def period_of(regime: str, kind: str, day: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(start, end, deadline) of the period holding ``day``."""
    if regime == VatRegime.REAL_MONTHLY and kind == EReport.Kind.TRANSACTIONS:
        if day.day <= 10:
            start, end = day.replace(day=1), day.replace(day=10)
            return start, end, day.replace(day=20)
        if day.day <= 20:
            start, end = day.replace(day=11), day.replace(day=20)
            return start, end, _month_end(day)
        start, end = day.replace(day=21), _month_end(day)
        return start, end, _next_month(day, 10)
    if regime == VatRegime.FRANCHISE:
        first_month = day.month - (day.month - 1) % 2
        start = day.replace(month=first_month, day=1)
        end = _month_end(start.replace(month=first_month + 1))
        return start, end, _next_month(end, 30)
    start, end = day.replace(day=1), _month_end(day)
    due_day = 30 if regime == VatRegime.SIMPLIFIED else 10
    return start, end, _next_month(day, due_day)


def ended_periods(regime: str, kind: str, *, since: dt.date, today: dt.date) -> list[tuple]:
    periods, day = [], since
    while True:
        start, end, due = period_of(regime, kind, day)
        if end >= today:
            return periods
        periods.append((start, end, due))
        day = end + dt.timedelta(days=1)


# --- Figures ----------------------------------------------------------------------------------------------


def _transactions(entity: LegalEntity, start: dt.date, end: dt.date):
    documents = list(
        Invoice.objects.filter(
            legal_entity=entity, treatment__in=EREPORTED, delivery_date__gte=start, delivery_date__lte=end
        )
        .prefetch_related("lines")
        .order_by("delivery_date", "pk")
    )
    aggregated: dict[tuple, dict] = defaultdict(lambda: {"base": ZERO, "vat": ZERO, "docs": set()})
    lines = []
    for doc in documents:
        sign = -1 if doc.is_credit_note else 1
        if doc.treatment == Treatment.B2BINT:
            for rate in doc.vat_breakdown:
                lines.append(
                    EReportLine(
                        day=doc.delivery_date,
                        treatment=doc.treatment,
                        category=CATEGORIES.get(doc.nature, "TLB1") if doc.nature != Nature.MIXED else "TMX1",
                        vat_rate=Decimal(rate["rate"]),
                        base=sign * Decimal(rate["base"]),
                        vat=sign * Decimal(rate["vat"]),
                        count=1,
                        document=doc,
                    )
                )
            continue
        for line in doc.lines.all():
            key = (doc.delivery_date, doc.treatment, CATEGORIES.get(line.nature, "TLB1"), line.vat_rate)
            aggregated[key]["base"] += sign * line.total_excl_vat
            aggregated[key]["vat"] += sign * line.total_vat
            aggregated[key]["docs"].add(doc.pk)
        for allowance in doc.allowances or ():  # a document-level allowance lowers its rate's base and VAT
            category = CATEGORIES.get(allowance.get("nature") or Nature.GOODS, "TLB1")
            key = (doc.delivery_date, doc.treatment, category, Decimal(allowance["rate"]))
            aggregated[key]["base"] -= sign * Decimal(allowance["base"])
            aggregated[key]["vat"] -= sign * Decimal(allowance["vat"])
    for (day, treatment, category, rate), figures in aggregated.items():
        lines.append(
            EReportLine(
                day=day,
                treatment=treatment,
                category=category,
                vat_rate=rate,
                base=figures["base"],
                vat=figures["vat"],
                count=len(figures["docs"]),
            )
        )
    return lines, documents, []


def _payments(entity: LegalEntity, start: dt.date, end: dt.date):
    payments = list(
        Payment.objects.filter(
            document__legal_entity=entity,
            document__treatment__in=EREPORTED,
            document__nature__in=[Nature.SERVICES, Nature.MIXED],
            paid_on__gte=start,
            paid_on__lte=end,
        )
        .select_related("document")
        .order_by("paid_on", "pk")
    )
    payments = [p for p in payments if not p.document.seller.get("vat_on_debits")]
    aggregated: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for payment in payments:
        for part in split_by_rate(payment.document, payment.amount):
            aggregated[(payment.paid_on, payment.document.treatment, Decimal(part["rate"]))] += Decimal(
                part["amount"]
            )
    lines = [
        EReportLine(day=day, treatment=treatment, category="PAY", vat_rate=rate, amount=amount, count=1)
        for (day, treatment, rate), amount in aggregated.items()
    ]
    return lines, [], payments


def _compute(entity, kind, start, end):
    return (_transactions if kind == EReport.Kind.TRANSACTIONS else _payments)(entity, start, end)


def _fill(report: EReport, lines, documents, payments) -> None:
    report.lines.all().delete()
    for line in lines:
        line.report = report
    EReportLine.objects.bulk_create(
        sorted(lines, key=lambda x: (x.day, x.treatment, x.category, -x.vat_rate))
    )
    report.documents.set(documents)
    report.payments.set(payments)
    report.total_base = sum((x.base for x in lines), ZERO)
    report.total_vat = sum((x.vat for x in lines), ZERO)
    report.total_paid = sum((x.amount for x in lines), ZERO)
    report.save(update_fields=["total_base", "total_vat", "total_paid"])


# --- Generation -------------------------------------------------------------------------------------------


@transaction.atomic
def ereport_generate(
    *, legal_entity: LegalEntity, kind: str, start: dt.date, end: dt.date, due: dt.date
) -> EReport:
    """The report of a period: created, brought up to date while a draft, or — when the period was sent and a
    late document changed it — a correction (next version) replacing the one sent."""
    lines, documents, payments = _compute(legal_entity, kind, start, end)
    latest = (
        EReport.objects.select_for_update()
        .filter(legal_entity=legal_entity, kind=kind, period_start=start)
        .order_by("-version")
        .first()
    )
    if latest is None:
        report = EReport.objects.create(
            legal_entity=legal_entity, kind=kind, period_start=start, period_end=end, due_on=due
        )
        _fill(report, lines, documents, payments)
        return report
    if latest.status in (EReport.Status.DRAFT, EReport.Status.REJECTED):
        _fill(latest, lines, documents, payments)
        return latest
    sent_documents = set(latest.documents.values_list("pk", flat=True))
    sent_payments = set(latest.payments.values_list("pk", flat=True))
    late_documents = [d for d in documents if d.pk not in sent_documents]
    late_payments = [p for p in payments if p.pk not in sent_payments]
    if not late_documents and not late_payments:
        return latest
    numbers = ", ".join(d.number for d in late_documents[:10]) or ", ".join(
        str(p.pk) for p in late_payments[:10]
    )
    correction = EReport.objects.create(
        legal_entity=legal_entity,
        kind=kind,
        period_start=start,
        period_end=end,
        due_on=max(due, timezone.localdate()),
        version=latest.version + 1,
        corrects=latest,
        reason=f"Late in the period: {numbers}"[:255],
    )
    _fill(correction, lines, documents, payments)
    return correction


def ereport_payload(report: EReport) -> dict:
    """What the platform receives: the seller, the period, the version (and the one it replaces), the
    lines."""
    entity = report.legal_entity
    return {
        "seller": {"siren": entity.siren, "vat_number": entity.vat_number, "name": entity.name},
        "vat_regime": entity.vat_regime,
        "kind": report.kind,
        "period": {"start": report.period_start.isoformat(), "end": report.period_end.isoformat()},
        "version": report.version,
        "replaces": report.corrects_id and f"oms-ereport-{report.corrects_id}",
        "currency": "EUR",
        "lines": [
            {
                "date": line.day.isoformat(),
                "treatment": line.treatment,
                "category": line.category,
                "vat_rate": str(line.vat_rate),
                "base": str(line.base),
                "vat": str(line.vat),
                "amount": str(line.amount),
                "count": line.count,
                **(
                    {
                        "invoice": line.document.number,
                        "buyer": line.document.buyer_name,
                        "buyer_vat_number": line.document.buyer.get("vat_number", ""),
                        "country": (line.document.buyer.get("address") or {}).get("country", ""),
                    }
                    if line.document_id
                    else {}
                ),
            }
            for line in report.lines.select_related("document")
        ],
    }


@transaction.atomic
def ereport_send(*, report: EReport, actor=None) -> Transmission:
    """Queue a reviewed report for its platform (the seller's)."""
    report = EReport.objects.select_for_update().select_related("legal_entity").get(pk=report.pk)
    platform = report.legal_entity.platform
    if not platform:
        raise EReportNotSendable("The seller has no plateforme agréée set (invoicing settings).")
    if report.status not in (EReport.Status.DRAFT, EReport.Status.REJECTED):
        raise EReportNotSendable("This report was sent already.", details={"status": report.status})
    transmission = Transmission.objects.filter(report=report, kind=Transmission.Kind.EREPORT).first()
    if transmission is None:
        transmission = Transmission.objects.create(
            kind=Transmission.Kind.EREPORT, platform=platform, report=report
        )
    else:
        Transmission.objects.filter(pk=transmission.pk).update(
            state=Transmission.State.PENDING, next_attempt_at=timezone.now(), last_error=""
        )
    report.status = EReport.Status.QUEUED
    report.reviewed_by = actor if getattr(actor, "pk", None) else None
    report.save(update_fields=["status", "reviewed_by"])
    if report.corrects_id:
        EReport.objects.filter(pk=report.corrects_id).update(status=EReport.Status.REPLACED)
    _queue(transmission.pk)
    return transmission


def ereporting_run(*, today: dt.date | None = None) -> dict:
    """Beat, once a day: the reports of every ended period (and corrections), and the drafts due today
    sent."""
    today = today or timezone.localdate()
    generated = sent = 0
    for entity in LegalEntity.objects.exclude(platform=""):
        for kind in EReport.Kind.values:
            for start, end, due in ended_periods(
                entity.vat_regime, kind, since=settings.EREPORTING_START, today=today
            ):
                report = ereport_generate(legal_entity=entity, kind=kind, start=start, end=end, due=due)
                generated += 1
                if (
                    settings.EREPORTING_AUTO_SEND_ON_DEADLINE
                    and report.status == EReport.Status.DRAFT
                    and report.due_on <= today
                ):
                    ereport_send(report=report)
                    sent += 1
    return {"generated": generated, "sent": sent}
