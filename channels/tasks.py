"""Celery tasks of the channel connectors: thin, idempotent, retried with backoff on network errors."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .http import ChannelUnavailable
from .models import ChannelConnection
from .services import PushBusy

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


@shared_task(
    name="channels.delivery_process",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    **RETRY,
)
def delivery_process(delivery_id: int) -> str:
    from .services import delivery_process as process

    return process(delivery_id=delivery_id).status


@shared_task(name="channels.deliveries_kick", acks_late=True)
def deliveries_kick() -> int:
    """The webhooks' hand-off (``services.deliveries_kick``): every delivery stored and never taken."""
    from .services import deliveries_process_new

    return deliveries_process_new()


@shared_task(
    name="channels.stock_push", acks_late=True, autoretry_for=(ChannelUnavailable, PushBusy), **RETRY
)
def stock_push(channel_id: int, full: bool = False) -> dict:
    from .services import stock_push as push

    return push(channel_id=channel_id, full=full)


@shared_task(name="channels.stock_push_all", acks_late=True)
def stock_push_all() -> int:
    """Beat: a push for every channel that pushes stock (catches any change whose push was lost)."""
    ids = list(
        ChannelConnection.objects.filter(push_stock=True, channel__active=True).values_list(
            "channel_id", flat=True
        )
    )
    for channel_id in ids:
        stock_push.delay(channel_id)
    return len(ids)


@shared_task(name="channels.prestashop_poll", acks_late=True, autoretry_for=(ChannelUnavailable,), **RETRY)
def prestashop_poll(channel_id: int) -> int:
    from .services import prestashop_poll as poll

    return poll(channel_id=channel_id)


@shared_task(name="channels.prestashop_poll_all", acks_late=True)
def prestashop_poll_all() -> int:
    """Beat: poll every PrestaShop channel that asks for it."""
    ids = list(
        ChannelConnection.objects.filter(
            poll_orders=True, channel__active=True, channel__kind="prestashop"
        ).values_list("channel_id", flat=True)
    )
    for channel_id in ids:
        prestashop_poll.delay(channel_id)
    return len(ids)


@shared_task(name="channels.fulfilment_send", acks_late=True, autoretry_for=(ChannelUnavailable,), **RETRY)
def fulfilment_send(order_id: int) -> int:
    from .services import fulfilment_send as send

    return send(order_id=order_id)


@shared_task(name="channels.marketplace_send", acks_late=True, autoretry_for=(ChannelUnavailable,), **RETRY)
def marketplace_send(send_id: int) -> str:
    """One of our cancellations or refunds told to the marketplace (OR30 / OR29 / OR28)."""
    from .outbound import marketplace_send as send

    return send(send_id=send_id)


@shared_task(
    name="channels.marketplace_reasons_refresh", acks_late=True, autoretry_for=(ChannelUnavailable,), **RETRY
)
def marketplace_reasons_refresh(channel_id: int) -> int:
    """RE02: the marketplace's reason codes, cached on the connector (asked from its page)."""
    from .outbound import marketplace_reasons_refresh as refresh

    connection = ChannelConnection.objects.select_related("channel").get(channel_id=channel_id)
    return sum(len(v) for v in refresh(connection=connection).values() if isinstance(v, list))


@shared_task(name="channels.fulfilment_sweep", acks_late=True)
def fulfilment_sweep() -> int:
    """Beat: parcels that left and are not reported to their channel yet are sent again."""
    from .services import fulfilment_sweep as sweep

    return sweep()


@shared_task(name="channels.import_run", acks_late=True)
def import_run(job_id: int) -> str:
    from .imports import import_run as run

    return run(job_id=job_id).status


@shared_task(name="channels.purge_availability_changes", acks_late=True)
def purge_availability_changes() -> int:
    from .feed import changes_purge

    return changes_purge()


@shared_task(name="channels.marketplace_poll", acks_late=True, autoretry_for=(ChannelUnavailable,), **RETRY)
def marketplace_poll(channel_id: int) -> int:
    """Amazon (getOrders) or a Mirakl marketplace (OR11), by the channel's kind."""
    from orders.models import Channel

    from .services import amazon_poll, mirakl_poll

    kind = Channel.objects.filter(pk=channel_id).values_list("kind", flat=True).first()
    if kind == Channel.Kind.AMAZON:
        return amazon_poll(channel_id=channel_id)
    if kind == Channel.Kind.MIRAKL:
        return mirakl_poll(channel_id=channel_id)
    return 0


@shared_task(name="channels.marketplace_poll_all", acks_late=True)
def marketplace_poll_all() -> int:
    """Beat, every 2 minutes: every Amazon and Mirakl channel that polls orders (each respects its own
    documented frequency: Amazon's getOrders bucket, Mirakl's OR11 interval)."""
    ids = list(
        ChannelConnection.objects.filter(
            poll_orders=True, channel__active=True, channel__kind__in=["amazon", "mirakl"]
        ).values_list("channel_id", flat=True)
    )
    for channel_id in ids:
        marketplace_poll.delay(channel_id)
    return len(ids)
