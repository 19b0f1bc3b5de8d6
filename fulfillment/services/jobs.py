"""Long print jobs (a wave's pick lists, its packing slips): queued as a Celery task after commit, their
progress polled by the page every second, the PDF kept for download."""

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import jobs
from common.exceptions import DomainError
from shipping.models import Shipment

from ..models import DocumentJob, Parcel, Wave

KINDS = ("pick_lists", "slips", "labels", "labels_a4", "labels_zpl")
LABEL_KINDS = ("labels", "labels_a4", "labels_zpl")


class JobError(DomainError):
    code = "invalid_job"
    status_code = 422


def document_job_start(*, kind: str, params: dict, user) -> DocumentJob:
    from ..tasks import render_document_job

    if kind not in KINDS:
        raise JobError(_("Unknown print job."), details={"kind": kind})
    if not params.get("waves"):
        raise JobError(_("Select at least one wave."), code="nothing_selected")
    with transaction.atomic():
        job = DocumentJob.objects.create(kind=kind, params=params, created_by=user, job_due_at=jobs.due())
        jobs.enqueue_on_commit(render_document_job, job.pk)
    return job


def _units(job: DocumentJob) -> list:
    waves = list(Wave.objects.filter(pk__in=job.params["waves"]).select_related("location").order_by("pk"))
    if job.kind == "pick_lists":
        return waves
    if job.kind in LABEL_KINDS:
        field = "label_zpl" if job.kind == "labels_zpl" else "label_pdf"
        return list(
            Shipment.objects.filter(parcel__preparation__wave__in=waves)
            .exclude(**{field: ""})
            .exclude(status=Shipment.Status.CANCELLED)
            .order_by("parcel__preparation__wave_id", "parcel__preparation__tote", "pk")
        )
    return list(
        Parcel.objects.filter(preparation__wave__in=waves, status=Parcel.Status.CLOSED)
        .select_related("preparation", "shipment", "box")
        .order_by("preparation__wave_id", "preparation__tote", "seq")
    )


def document_job_run(*, job_id: int) -> DocumentJob:
    """Render the job's PDF, one document at a time, counting progress. Idempotent: a finished job is
    left as it is, one held by another worker too (common/jobs.py); a job interrupted midway (its worker
    died) is taken over by the beat sweep once its lease expires and starts again from the beginning."""
    from ..jobs import PRINT

    with jobs.claim(PRINT, job_id) as claim:
        if claim is None:
            return DocumentJob.objects.get(pk=job_id)
        DocumentJob.objects.filter(pk=job_id).update(status=DocumentJob.Status.RUNNING, done=0)
        return _run(job=DocumentJob.objects.get(pk=job_id), claim=claim)


def _run(*, job: DocumentJob, claim) -> DocumentJob:
    from .. import documents

    try:
        units = _units(job)
        DocumentJob.objects.filter(pk=job.pk).update(total=len(units))
        parts = []
        for index, unit in enumerate(units, start=1):
            if job.kind == "pick_lists":
                parts.append(documents.pick_lists_pdf(waves=[unit]))
            elif job.kind == "slips":
                parts.append(documents.packing_slips_pdf(parcels=[unit]))
            elif job.kind == "labels_zpl":
                with unit.label_zpl.open("rb") as f:
                    parts.append(f.read())
            else:
                with unit.label_pdf.open("rb") as f:
                    parts.append(f.read())
            DocumentJob.objects.filter(pk=job.pk).update(done=index)
            claim.renew()
        if not parts:
            if job.kind in LABEL_KINDS:
                raise JobError(_("Nothing to print: no parcel of the selected waves has its label yet."))
            raise JobError(_("Nothing to print: the selected waves have no closed parcel yet."))
        if job.kind == "labels_zpl":
            content, extension = b"\n".join(parts), "zpl"
        elif job.kind == "labels_a4":
            content, extension = documents.four_up_a4(parts), "pdf"
        else:
            content, extension = documents.merge_pdfs(parts), "pdf"
        job.refresh_from_db()
        job.file.save(f"{job.kind}-{job.pk}.{extension}", ContentFile(content), save=False)
        job.status = DocumentJob.Status.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["file", "status", "finished_at"])
    except DomainError as exc:
        DocumentJob.objects.filter(pk=job.pk).update(
            status=DocumentJob.Status.FAILED, error=exc.message, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job
