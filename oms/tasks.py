from celery import shared_task


@shared_task(name="oms.ping", acks_late=True, ignore_result=False)
def ping(value: str = "pong") -> str:
    """Round trip used by the health checks and the broker test: returns what it was given."""
    return value
