"""Celery tasks of the shared kernel: the domain event log's consumers (each reads the log in its own
task; beat's sweep runs every consumer, so events written while the broker was down are handled once it
is back) and the queued jobs' sweep (common/jobs.py)."""

from celery import shared_task

from . import eventlog


@shared_task(name="common.consume_events", acks_late=True, ignore_result=True)
def consume_events(name: str, limit: int = 200) -> int:
    """Handle consumer ``name``'s next events, page after page (a few seconds at most per task)."""
    total = 0
    for _page in range(20):
        done = eventlog.consume(name, limit=limit)
        total += done
        if done < limit:
            break
    return total


@shared_task(name="common.events_sweep", ignore_result=True)
def events_sweep() -> int:
    """Run every consumer (beat, every 30 seconds): what an after-commit queueing missed is handled now."""
    return eventlog.consume_all()


@shared_task(name="common.jobs_sweep", acks_late=True)
def jobs_sweep() -> dict:
    """Beat, every minute: queue again the jobs whose message was lost or whose worker died
    (common/jobs.py)."""
    from .jobs import sweep

    return sweep()
