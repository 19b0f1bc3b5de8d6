"""Celery tasks of the shared kernel."""

from celery import shared_task


@shared_task(name="common.jobs_sweep", acks_late=True)
def jobs_sweep() -> dict:
    """Beat, every minute: queue again the jobs whose message was lost or whose worker died
    (common/jobs.py)."""
    from .jobs import sweep

    return sweep()
