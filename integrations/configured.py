"""What the integrations' consumers need to know on every event, "is anything configured?", answered from
memory: the active webhook endpoints (id, event types, channel) and whether the HubSpot connection is
active, read from PostgreSQL once and kept per process.

Each of the two consumers (``webhooks.deliveries``, ``crm.hubspot``, integrations/events.py) used to ask
PostgreSQL for every event, configured or not (issue 21: ~7 statements per order at intake alone).

The copy is a ``common.versioned.VersionedMemo``: checked against a version token in the shared cache
(one Redis GET per event, no SQL) and at most ``MAX_AGE`` seconds old. Every write of an endpoint or of the
connection drops it: the models' ``post_save`` / ``post_delete`` signals (services, admin, cascades) and
the services that write with ``UPDATE`` (enable, disable) call ``changed()``, which forgets this process's
copy and deletes the token
at once and again after the commit, so another process's reader that loaded the old rows between the two
takes a new token and reads again. When the cache cannot answer, the answer is read from PostgreSQL
(as before) and nothing is kept; so it is without a shared cache (no ``REDIS_URL``; the tests' settings
keep it, one process each: ``INTEGRATIONS_CONFIG_CACHED``). ``MAX_AGE`` bounds the rest: a token deleted
while Redis was down, or an event handled in the instant between a commit and its after-commit callback.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common.versioned import VersionedMemo

from .models import HubspotConnection, WebhookEndpoint

VERSION_KEY = "integrations:configured:version"
MAX_AGE = 10.0  # seconds a process keeps its copy at most, whatever the token says

# The copy and its token (common/versioned.py, which this module's pattern became): also not kept while read
# inside the transaction that wrote an endpoint, until it ends.
_MEMO = VersionedMemo(VERSION_KEY, setting="INTEGRATIONS_CONFIG_CACHED", max_age=MAX_AGE)


@dataclass(frozen=True)
class EndpointRoute:
    """An active endpoint as the consumer needs it."""

    pk: int
    events: frozenset
    channel_id: int | None


def _endpoints() -> list[EndpointRoute]:
    return [
        EndpointRoute(pk=pk, events=frozenset(events or ()), channel_id=channel_id)
        for pk, events, channel_id in WebhookEndpoint.objects.filter(status=WebhookEndpoint.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", "events", "channel_id")
    ]


def _hubspot() -> bool:
    from .hubspot.sync import connection_active

    return connection_active() is not None


def active_endpoints() -> list[EndpointRoute]:
    """The active webhook endpoints (one query when not in memory)."""
    return _MEMO.get("endpoints", _endpoints)


def hubspot_active() -> bool:
    """Whether the HubSpot connection is active (one query when not in memory)."""
    return _MEMO.get("hubspot", _hubspot)


def changed() -> None:
    """An endpoint or the connection was written: every process reads them again for its next event."""
    _MEMO.changed()


def forget() -> None:
    """Drop this process's copy (tests)."""
    _MEMO.forget()


@receiver(post_save, sender=WebhookEndpoint, dispatch_uid="integrations.configured.endpoint_saved")
@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="integrations.configured.endpoint_deleted")
@receiver(post_save, sender=HubspotConnection, dispatch_uid="integrations.configured.connection_saved")
@receiver(post_delete, sender=HubspotConnection, dispatch_uid="integrations.configured.connection_deleted")
def _written(sender, **kwargs) -> None:
    changed()
