"""Celery tasks of the shared kernel: the domain event log's consumers (each reads the log in its own
task; beat's sweep runs every consumer, so events written while the broker was down are handled once it
is back) and the queued jobs' sweep (common/jobs.py)."""

from celery import shared_task

from . import eventlog


@shared_task(name="common.consume_events", acks_late=True, ignore_result=True)
def consume_events(name: str | list[str], limit: int = 200) -> int:
    """Handle the next events of consumer ``name`` (or of a list of consumers: their bookkeeping shared,
    each in its own transaction, ``eventlog.consume_group``), page after page (a few seconds at most).
    Their kick flags are cleared first, before reading (``eventlog.kick``): what is committed from now on
    publishes a new message."""
    from .cache import cache_delete_many

    names = [name] if isinstance(name, str) else list(name)
    cache_delete_many(eventlog.kick_keys(names))
    total = 0
    for _page in range(20):
        done, full = eventlog.consume_group(names, limit=limit)
        total += done
        if not full:
            break
    else:
        # Still a full page after twenty (a burst: a tracking cycle moving thousands of parcels): the rest
        # is read after the queue's other messages, not half a minute later by the sweep. Nothing commits
        # from here to kick these consumers again (their handlers' events name other consumers).
        from .jobs import enqueue

        enqueue(consume_events, name, limit, queue=eventlog.consumers()[names[0]].queue)
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


@shared_task(name="common.partitions_maintain", ignore_result=True)
def partitions_maintain() -> dict:
    """Beat, daily: the history tables' partitions for the coming months (common/partitions.py)."""
    from .partitions import partitions_maintain as maintain

    return maintain()
