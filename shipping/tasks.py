"""Celery tasks of the shipping app: the daily refresh of the relay-point directory from each carrier."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from common import jobs

from . import carriers
from .models import Carrier
from .relay_services import relay_carriers, relay_points_fetch, relay_points_store

logger = logging.getLogger(__name__)

REFRESH_LOCK_SECONDS = 60 * 60


@shared_task(
    name="shipping.relay_points_refresh",
    bind=True,
    acks_late=True,
    autoretry_for=(carriers.RetryableCarrierError,),
    retry_backoff=60,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=6,
)
def relay_points_refresh(self, carrier_id: int) -> dict:
    """Fetch a carrier's relay points and store them in the directory. Idempotent (an upsert by the
    carrier's ids); one refresh per carrier at a time (a lease in the database); carrier errors that may pass
    (timeout, 5xx, quota) are retried with exponential backoff."""
    carrier = Carrier.objects.filter(pk=carrier_id, active=True).first()
    if carrier is None:
        return {"skipped": "no such active carrier"}
    with jobs.lease(f"shipping:relay-refresh:{carrier.pk}", seconds=REFRESH_LOCK_SECONDS) as held:
        if not held:
            return {"skipped": "a refresh of this carrier is running"}
        return _refresh(carrier)


def _refresh(carrier: Carrier) -> dict:
    try:
        adapter = carriers.get_adapter(carrier)
        fetched = relay_points_fetch(adapter=adapter)
        stale_days = getattr(settings, "RELAY_POINT_STALE_DAYS", 14)
        result = relay_points_store(
            carrier=carrier,
            points=fetched.points,
            complete=fetched.complete,
            stale_before=None if fetched.failed_areas else timezone.now() - timedelta(days=stale_days),
        )
    except carriers.PermanentCarrierError as exc:
        logger.warning("relay points of %s not refreshed: %s", carrier.code, exc)
        return {"carrier": carrier.code, "error": str(exc)}
    if fetched.failed_areas:
        logger.warning("relay points of %s: areas refused: %s", carrier.code, ", ".join(fetched.failed_areas))
    return {"carrier": carrier.code, **result.__dict__, "failed_areas": fetched.failed_areas}


@shared_task(name="shipping.relay_points_refresh_all", acks_late=True)
def relay_points_refresh_all() -> list[int]:
    """Beat, daily: queue one refresh per active carrier that has an active relay service."""
    ids = list(relay_carriers().values_list("pk", flat=True))
    for carrier_id in ids:
        relay_points_refresh.delay(carrier_id)
    return ids


@shared_task(
    name="shipping.shipment_label",
    queue="documents",
    acks_late=True,
    autoretry_for=(carriers.RetryableCarrierError,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=5,
)
def shipment_label(shipment_id: int) -> str:
    """The parcel's label from its carrier, right after packing, then the return label slipped in the
    parcel when its channel wants one (retried with backoff; both idempotent: see label_create)."""
    from .models import ShipmentStatus
    from .shipments import label_create, return_label_create, return_label_due

    shipment = label_create(shipment_id=shipment_id)
    if shipment.status == ShipmentStatus.LABELLED and return_label_due(shipment):
        return_label_create(shipment_id=shipment_id)
    return shipment.status


@shared_task(
    name="shipping.label_cancel",
    queue="documents",
    acks_late=True,
    autoretry_for=(carriers.RetryableCarrierError,),
    retry_backoff=60,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=6,
)
def label_cancel(carrier_id: int, tracking_number: str) -> bool:
    """Cancel a label replaced by a manual change of service (idempotent at the carriers that cancel)."""
    from .shipments import label_cancel_at_carrier

    return label_cancel_at_carrier(carrier_id=carrier_id, tracking_number=tracking_number)


@shared_task(name="shipping.tracking_poll", queue="tracking", acks_late=True)
def tracking_poll() -> dict:
    """Beat, every 10 minutes: claim the parcels due for a check and queue their batches (below)."""
    from .tracking import tracking_poll as poll

    return poll()


@shared_task(
    name="shipping.tracking_batch",
    queue="tracking",
    acks_late=True,
    autoretry_for=(carriers.RetryableCarrierError,),
    retry_backoff=20,
    retry_backoff_max=240,
    retry_jitter=True,
    max_retries=3,
)
def tracking_batch(carrier_id: int, shipment_ids: list[int], lease_until: str) -> dict:
    """One carrier's news of one batch of parcels claimed by the poll (idempotent, fenced by the poll's
    lease: see shipping/tracking.py). Retries stay within the lease; after it the next poll takes over."""
    from .tracking import tracking_batch as batch

    return batch(carrier_id=carrier_id, shipment_ids=shipment_ids, lease_until=lease_until)
