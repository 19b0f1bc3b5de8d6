"""The accountant's export of a period: one row per document and VAT rate (CSV and XLSX), and a ZIP of the
PDFs. Credit notes carry negative amounts, so each column adds up to the period's net figures."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from common import jobs
from common.replica import replica_reads

from ..models import InvoiceExport
from ..selectors import export_documents

COLUMNS = [
    "number",
    "type",
    "issue_date",
    "delivery_date",
    "due_date",
    "seller",
    "seller_vat_number",
    "channel",
    "order",
    "buyer",
    "buyer_email",
    "buyer_vat_number",
    "corrects",
    "vat_rate",
    "base_excl_vat",
    "vat",
    "total_incl_vat",
    "document_total_excl_vat",
    "document_total_vat",
    "document_total_incl_vat",
    "currency",
]
PROGRESS_EVERY = 20


def export_request(
    *, date_from: dt.date, date_to: dt.date, channel=None, legal_entity=None, actor=None, kind="documents"
):
    if kind == InvoiceExport.Kind.FEC and legal_entity is None:
        from ..models import LegalEntity

        legal_entity = LegalEntity.objects.filter(is_default=True).first()
    export = InvoiceExport.objects.create(
        kind=kind,
        date_from=date_from,
        date_to=date_to,
        channel=channel,
        legal_entity=legal_entity,
        requested_by=actor if getattr(actor, "pk", None) else None,
        job_due_at=jobs.due(),
    )
    from ..tasks import build_export as build_export_task

    jobs.enqueue_on_commit(build_export_task, export.pk)
    return export


def export_rows(documents) -> list[list]:
    rows = []
    for doc in documents:
        sign = Decimal(-1) if doc.is_credit_note else Decimal(1)
        for rate in doc.vat_breakdown:
            rows.append(
                [
                    doc.number,
                    doc.kind,
                    doc.issue_date.isoformat(),
                    doc.delivery_date.isoformat(),
                    doc.due_date.isoformat(),
                    doc.seller["name"],
                    doc.seller["vat_number"],
                    doc.channel.code,
                    doc.order.number,
                    doc.buyer_name,
                    doc.buyer_email,
                    doc.buyer.get("vat_number", "") if doc.is_b2b else "",
                    doc.corrects.number if doc.corrects_id else "",
                    Decimal(rate["rate"]),
                    sign * Decimal(rate["base"]),
                    sign * Decimal(rate["vat"]),
                    sign * Decimal(rate["gross"]),
                    sign * doc.total_excl_vat,
                    sign * doc.total_vat,
                    sign * doc.total_incl_vat,
                    doc.currency,
                ]
            )
    return rows


def _csv(rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [f"{v:.2f}" if isinstance(v, Decimal) and i != 13 else str(v) for i, v in enumerate(row)]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: spreadsheets then read it as UTF-8


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("documents")
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_build(*, export_id: int) -> InvoiceExport:
    """Build the files of an export once (a finished export is left alone), reporting progress as it goes.
    The job is claimed first (common/jobs.py): one worker builds it; if that worker dies, the beat sweep
    gives it to another once its lease (renewed as the build goes) expires."""
    from ..jobs import EXPORT

    with jobs.claim(EXPORT, export_id) as job:
        if job is None:
            return InvoiceExport.objects.get(pk=export_id)
        return _build(export_id=export_id, job=job)


def _build(*, export_id: int, job) -> InvoiceExport:
    export = InvoiceExport.objects.get(pk=export_id)
    if export.status == InvoiceExport.Status.DONE:
        return export
    if export.kind == InvoiceExport.Kind.FEC:
        return fec_build(export)
    # The documents are read from the replica when one is configured and has replayed everything committed
    # before the export was requested (common/replica.py); progress is written to the primary.
    with replica_reads(caught_up_to_moment=export.created_at, sticky=False):
        return _build_documents(export=export, job=job)


def _build_documents(*, export: InvoiceExport, job) -> InvoiceExport:
    documents = export_documents(
        date_from=export.date_from,
        date_to=export.date_to,
        channel_id=export.channel_id,
        legal_entity_id=export.legal_entity_id,
    )
    total = documents.count()
    InvoiceExport.objects.filter(pk=export.pk).update(
        status=InvoiceExport.Status.RUNNING, total=total, done=0
    )
    try:
        archive_buffer = io.BytesIO()
        rows = []
        missing = []
        with zipfile.ZipFile(archive_buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for index, doc in enumerate(documents.iterator(chunk_size=200), start=1):
                rows.extend(export_rows([doc]))
                if doc.pdf:
                    with doc.pdf.open("rb") as handle:
                        archive.writestr(f"{doc.seller['siren']}/{doc.filename}", handle.read())
                else:
                    missing.append(doc.number)
                if index % PROGRESS_EVERY == 0:
                    InvoiceExport.objects.filter(pk=export.pk).update(done=index)
                    job.renew()
            if missing:
                archive.writestr("MISSING.txt", "\n".join(missing) + "\n")
        stem = f"invoices-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}-{export.pk}"
        export.csv.save(f"{stem}.csv", ContentFile(_csv(rows)), save=False)
        export.xlsx.save(f"{stem}.xlsx", ContentFile(_xlsx(rows)), save=False)
        export.zip.save(f"{stem}.zip", ContentFile(archive_buffer.getvalue()), save=False)
    except Exception as exc:
        InvoiceExport.objects.filter(pk=export.pk).update(
            status=InvoiceExport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    export.status = InvoiceExport.Status.DONE
    export.total = total
    export.done = total
    export.finished_at = timezone.now()
    export.save(update_fields=["csv", "xlsx", "zip", "status", "total", "done", "finished_at"])
    return export


def fec_build(export: InvoiceExport) -> InvoiceExport:
    """The FEC of the export's seller and period, with progress."""
    from .fec import fec_content, fec_count, fec_filename, fec_rows

    entity = export.legal_entity
    total = fec_count(entity=entity, date_from=export.date_from, date_to=export.date_to)
    InvoiceExport.objects.filter(pk=export.pk).update(
        status=InvoiceExport.Status.RUNNING, total=total, done=0
    )
    try:
        rows = fec_rows(
            entity=entity,
            date_from=export.date_from,
            date_to=export.date_to,
            progress=lambda done: InvoiceExport.objects.filter(pk=export.pk).update(done=done),
        )
        export.fec.save(fec_filename(entity, export.date_to), ContentFile(fec_content(rows)), save=False)
    except Exception as exc:
        InvoiceExport.objects.filter(pk=export.pk).update(
            status=InvoiceExport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    export.status = InvoiceExport.Status.DONE
    export.total = total
    export.done = total
    export.finished_at = timezone.now()
    export.save(update_fields=["fec", "status", "total", "done", "finished_at"])
    return export
