"""Consumers of the domain event log for the channel connectors: every change of availability feeds the
change log (``GET /api/v1/availability/changes/``) and the stock push; orders that ship are reported to
their channel. Both only write rows and queue tasks after commit (the pushes are external calls)."""

from django.db import transaction

from common.cache import cache_get, cache_set
from common.eventlog import consumer
from common.jobs import enqueue_on_commit
from orders.models import Channel, OrderStatus

from .feed import changes_record

PUSHING_KEY = "channels:pushing-channels"


@consumer(
    "channels.availability",
    codes={"stock.availability_changed"},
    ordered=False,
    locks=False,  # inserts change-log rows, queues the push after commit
)
def on_availability_changed(event) -> None:
    """Reservations are compare-and-set updates that write no event of their own per line at intake (one
    per line would cost a write per line): the intake writes one ``stock.availability_changed`` with all
    its products (``orders.services.intake._events``; its ``order.created`` carries the same ids, and is
    not read here: the same products recorded twice in one transaction)."""
    product_ids = event.payload.get("product_ids") or []
    if not product_ids:
        return
    # A kit's availability is its components': the kits they belong to changed too (the same statement).
    changes_record(product_ids=product_ids, with_kits=True)
    transaction.on_commit(_schedule_push)


def _schedule_push() -> None:
    from .models import ChannelConnection
    from .services import push_schedule

    pushing = cache_get(PUSHING_KEY)  # None when missing or when the cache is down: ask the database
    if pushing is None:
        pushing = ChannelConnection.objects.filter(push_stock=True, channel__active=True).exists()
        cache_set(PUSHING_KEY, pushing, timeout=10)
    if pushing:
        push_schedule()


# the channels told of their orders' parcels
FULFILLED_KINDS = (Channel.Kind.SHOPIFY, Channel.Kind.WOOCOMMERCE, Channel.Kind.AMAZON, Channel.Kind.MIRAKL)


def _shipped(event) -> bool:
    """A move to (partially) shipped of an order whose channel is told, or may be: the hand-over's move
    names the channel's kind (``orders.services.fulfilment.parcels_handed_over``), other moves do not."""
    p = event.payload
    return (
        event.order_id is not None
        and p.get("to") in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED)
        and p.get("channel_kind", FULFILLED_KINDS[0]) in FULFILLED_KINDS
    )


@consumer("channels.fulfilment", codes={"order.status_changed"}, ordered=False, accepts=_shipped, locks=False)
def on_order_shipped(event) -> None:
    if not _shipped(event):
        return
    kind = event.payload.get("channel_kind") or (
        Channel.objects.filter(orders__pk=event.order_id).values_list("kind", flat=True).first()
    )
    if kind in FULFILLED_KINDS:
        from .tasks import fulfilment_send

        enqueue_on_commit(fulfilment_send, event.order_id)
