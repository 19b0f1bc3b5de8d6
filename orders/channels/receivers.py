"""Receivers of the connectors: availability changes feed the change log and the stock push; orders that
ship are reported to their channel."""

from django.db import transaction
from django.dispatch import receiver

from common.cache import cache_get, cache_set
from common.jobs import enqueue_on_commit
from inventory.signals import availability_changed

from ..models import Channel, OrderLine, OrderStatus
from ..signals import order_cancelled, order_created, order_status_changed
from .feed import changes_record

PUSHING_KEY = "channels:pushing-channels"


@receiver(availability_changed, dispatch_uid="orders.channels.availability_changed")
def on_availability_changed(sender, *, product_ids, **kwargs):
    changes_record(product_ids=product_ids)
    transaction.on_commit(_schedule_push)


@receiver(order_created, dispatch_uid="orders.channels.order_created")
@receiver(order_cancelled, dispatch_uid="orders.channels.order_cancelled")
def on_reservations_changed(sender, *, order, **kwargs):
    """Reservations are compare-and-set updates that send no signal of their own (one per line would cost
    a write per line): the order's creation and cancellation stand for them, once per order."""
    product_ids = set(OrderLine.objects.filter(order_id=order.pk).values_list("product_id", flat=True))
    on_availability_changed(sender, product_ids=product_ids)


def _schedule_push() -> None:
    from .models import ChannelConnection
    from .services import push_schedule

    pushing = cache_get(PUSHING_KEY)  # None when missing or when the cache is down: ask the database
    if pushing is None:
        pushing = ChannelConnection.objects.filter(push_stock=True, channel__active=True).exists()
        cache_set(PUSHING_KEY, pushing, timeout=10)
    if pushing:
        push_schedule()


@receiver(order_status_changed, dispatch_uid="orders.channels.order_shipped")
def on_order_status_changed(sender, *, order, new_status, **kwargs):
    if new_status not in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED):
        return
    kind = Channel.objects.filter(pk=order.channel_id).values_list("kind", flat=True).first()
    if kind in (Channel.Kind.SHOPIFY, Channel.Kind.WOOCOMMERCE):
        from .tasks import fulfilment_send

        enqueue_on_commit(fulfilment_send, order.pk)
