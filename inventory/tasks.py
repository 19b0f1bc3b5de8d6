"""Celery tasks of the inventory app: thin, idempotent, they call the app's code."""

from celery import shared_task


@shared_task(name="inventory.catalogue_import", acks_late=True)
def catalogue_import(job_id: int) -> str:
    """Check or apply a catalogue file; a job already started (redelivered task) is left alone."""
    from .imports import catalogue_import_run

    return catalogue_import_run(job_id=job_id).status
