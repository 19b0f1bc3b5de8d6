"""Reads of the connector pages, and the webhook endpoints' channel-and-secret lookup."""

import threading
import time

from django.conf import settings
from django.db import connections, router
from django.db.models import Count, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common import crypto
from orders.models import Channel

from .models import ChannelConnection, ImportJob, WebhookDelivery


def delivery_list(*, channel, status: str = ""):
    qs = WebhookDelivery.objects.filter(channel=channel).select_related("order").defer("payload")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-received_at", "-id")


def delivery_counts(*, channel) -> dict:
    return WebhookDelivery.objects.filter(channel=channel).aggregate(
        total=Count("id"),
        failed=Count("id", filter=Q(status=WebhookDelivery.Status.FAILED)),
        waiting=Count("id", filter=Q(status=WebhookDelivery.Status.RECEIVED)),
    )


def import_list(*, channel, limit: int = 10):
    return ImportJob.objects.filter(channel=channel).select_related("created_by")[:limit]


def connection_find(*, channel) -> ChannelConnection | None:
    return ChannelConnection.objects.filter(channel=channel).first()


# --- The webhook endpoints' signer lookup ----------------------------------------------------------------
#
# Every delivery a channel posts needs its channel's id and webhook secret before anything else. The ORM
# query (the channel with its connection, every secret of the connection decrypted) was ~45 % of the accept
# path's CPU (bench/README.md, "the accept path"); this is one hand-written query, and the answer is kept in
# the process for ``WEBHOOK_SIGNER_CACHE_SECONDS`` (10 s):
#
# - a rotated secret takes effect at once: a signature that the kept secret does not verify is checked
#   again against a fresh read (``fresh=True``, the endpoints do it) before a 401;
# - the old secret, a deactivated or deleted channel stop being accepted by the other processes within
#   the cache's seconds (at once in the process that saved the change: the signals below empty its cache).

_signers: dict[tuple[str, str], tuple[float, int, str]] = {}  # (code, kind) → (until, channel id, secret)
_signers_lock = threading.Lock()
_SIGNER_SQL = None


def _signer_sql() -> str:
    global _SIGNER_SQL
    if _SIGNER_SQL is None:
        channel, connection = Channel._meta.db_table, ChannelConnection._meta.db_table
        _SIGNER_SQL = (
            f'SELECT c."id", k."webhook_secret" FROM "{channel}" c '  # noqa: S608 (the models' tables)
            f'LEFT JOIN "{connection}" k ON k."channel_id" = c."id" '
            'WHERE c."code" = %s AND c."kind" = %s AND c."active" LIMIT 1'
        )
    return _SIGNER_SQL


def webhook_signer(*, code: str, kind: str, fresh: bool = False) -> tuple[int, str] | None:
    """(channel id, webhook secret) of the active channel of this code and kind, the secret "" when it has
    no connection or no secret; None when there is no such channel. Kept in the process for
    ``WEBHOOK_SIGNER_CACHE_SECONDS`` unless ``fresh`` (see above)."""
    key = (code, kind)
    now = time.monotonic()
    if not fresh:
        kept = _signers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1], kept[2]
    with connections[router.db_for_read(Channel)].cursor() as cursor:
        cursor.execute(_signer_sql(), [code, kind])
        row = cursor.fetchone()
    if row is None:
        with _signers_lock:
            _signers.pop(key, None)
        return None
    channel_id, token = row
    secret = crypto.decrypt(token) if token else ""
    seconds = float(getattr(settings, "WEBHOOK_SIGNER_CACHE_SECONDS", 10))
    if seconds > 0:
        with _signers_lock:
            _signers[key] = (now + seconds, channel_id, secret)
    return channel_id, secret


def webhook_signers_forget() -> None:
    """Empty this process's signer cache (a channel or a connection was saved or deleted here)."""
    with _signers_lock:
        _signers.clear()


@receiver(post_save, sender=Channel, dispatch_uid="channels.signers.channel_saved")
@receiver(post_delete, sender=Channel, dispatch_uid="channels.signers.channel_deleted")
@receiver(post_save, sender=ChannelConnection, dispatch_uid="channels.signers.connection_saved")
@receiver(post_delete, sender=ChannelConnection, dispatch_uid="channels.signers.connection_deleted")
def _signers_changed(**kwargs) -> None:
    webhook_signers_forget()
