"""What the integrations' consumers need to know on every event, "is anything configured?", answered from
memory: the active webhook endpoints (id, event types, channel) and whether the HubSpot connection is
active, read from PostgreSQL once and kept per process.

Each of the two consumers (``webhooks.deliveries``, ``crm.hubspot``, integrations/events.py) used to ask
PostgreSQL for every event, configured or not (issue 21: ~7 statements per order at intake alone).

The copy is checked against a version token in the shared cache (one Redis GET per event, no SQL) and is
at most ``MAX_AGE`` seconds old. Every write of an endpoint or of the connection drops it: the models'
``post_save`` / ``post_delete`` signals (services, admin, cascades) and the services that write with
``UPDATE`` (enable, disable) call ``changed()``, which forgets this process's copy and deletes the token
at once and again after the commit, so another process's reader that loaded the old rows between the two
takes a new token and reads again. When the cache cannot answer, the answer is read from PostgreSQL
(as before) and nothing is kept; so it is without a shared cache (no ``REDIS_URL``; the tests' settings
keep it, one process each: ``INTEGRATIONS_CONFIG_CACHED``). ``MAX_AGE`` bounds the rest: a token deleted
while Redis was down, or an event handled in the instant between a commit and its after-commit callback.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common.cache import CACHE_ERRORS

from .models import HubspotConnection, WebhookEndpoint

VERSION_KEY = "integrations:configured:version"
VERSION_TTL = 24 * 3600  # seconds; a missing token only costs a new read
MAX_AGE = 10.0  # seconds a process keeps its copy at most, whatever the token says


@dataclass(frozen=True)
class EndpointRoute:
    """An active endpoint as the consumer needs it."""

    pk: int
    events: frozenset
    channel_id: int | None


_memo: dict = {"token": None, "loaded": 0.0}


def _shared() -> bool:
    """Whether the copy may be kept: only with a cache every process shares (Redis). Without one (no
    ``REDIS_URL``: a cache per process) a write in one process could not reach the others' copies."""
    default = "LocMemCache" not in settings.CACHES["default"]["BACKEND"]
    return bool(getattr(settings, "INTEGRATIONS_CONFIG_CACHED", default))


def _token() -> str | None:
    """The shared version token (made when missing), or None when the cache cannot answer or is not
    shared."""
    from django.core.cache import cache

    if not _shared():
        return None
    try:
        token = cache.get(VERSION_KEY)
        if token is None:
            token = uuid.uuid4().hex
            if not cache.add(VERSION_KEY, token, VERSION_TTL):
                token = cache.get(VERSION_KEY)
    except CACHE_ERRORS:
        return None
    return token


def _current() -> dict:
    """This process's copy if still valid, else an empty one (kept only when the token is known). The token
    is read before the rows, so rows read before a change are never kept under the token made after it."""
    global _memo
    token = _token()
    memo = _memo
    now = time.monotonic()
    if token is not None and memo["token"] == token and now - memo["loaded"] <= MAX_AGE:
        return memo
    fresh = {"token": token, "loaded": now}
    if token is not None:
        _memo = fresh
    return fresh


def active_endpoints() -> list[EndpointRoute]:
    """The active webhook endpoints (one query when not in memory)."""
    memo = _current()
    if "endpoints" not in memo:
        memo["endpoints"] = [
            EndpointRoute(pk=pk, events=frozenset(events or ()), channel_id=channel_id)
            for pk, events, channel_id in WebhookEndpoint.objects.filter(status=WebhookEndpoint.Status.ACTIVE)
            .order_by("pk")
            .values_list("pk", "events", "channel_id")
        ]
    return memo["endpoints"]


def hubspot_active() -> bool:
    """Whether the HubSpot connection is active (one query when not in memory)."""
    memo = _current()
    if "hubspot" not in memo:
        from .hubspot.sync import connection_active

        memo["hubspot"] = connection_active() is not None
    return memo["hubspot"]


def _forget_shared() -> None:
    from django.core.cache import cache

    try:
        cache.delete(VERSION_KEY)
    except CACHE_ERRORS:
        pass


def changed() -> None:
    """An endpoint or the connection was written: every process reads them again for its next event."""
    global _memo
    _memo = {"token": None, "loaded": 0.0}
    _forget_shared()
    transaction.on_commit(_forget_shared, robust=True)


def forget() -> None:
    """Drop this process's copy (tests)."""
    global _memo
    _memo = {"token": None, "loaded": 0.0}


@receiver(post_save, sender=WebhookEndpoint, dispatch_uid="integrations.configured.endpoint_saved")
@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="integrations.configured.endpoint_deleted")
@receiver(post_save, sender=HubspotConnection, dispatch_uid="integrations.configured.connection_saved")
@receiver(post_delete, sender=HubspotConnection, dispatch_uid="integrations.configured.connection_deleted")
def _written(sender, **kwargs) -> None:
    changed()
