"""Click & collect at the store: the order's units, once picked, are set aside and the order is ready for
pickup; the hand-over itself (code check, stock consumed, order delivered) is ``orders``' business."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.exceptions import DomainError
from inventory.selectors import user_may_act_at

from ..events import preparation_event
from ..locks import lock_preparation, lock_preparations
from ..models import Preparation, PreparationStatus


class PickupRefused(DomainError):
    code = "pickup_refused"
    status_code = 422


@transaction.atomic
def pickup_mark_ready(*, preparation: Preparation, actor=None) -> Preparation:
    prep = lock_preparation(preparation.pk)
    if actor is not None and not user_may_act_at(user=actor, location_id=prep.location_id):
        raise PickupRefused(_("This order is collected at another store."), code="other_location")
    if prep.kind != Preparation.Kind.PICKUP:
        raise PickupRefused(_("This order is shipped, not collected here."), code="not_pickup")
    if prep.status == PreparationStatus.READY:
        raise PickupRefused(
            _("Order %(order)s is already ready for pickup.") % {"order": prep.order_number},
            code="already_ready",
        )
    if prep.status != PreparationStatus.TO_PACK:
        raise PickupRefused(
            _("Pick every unit of order %(order)s first.") % {"order": prep.order_number}, code="not_picked"
        )
    prep.status = PreparationStatus.READY
    prep.ready_at = timezone.now()
    prep.save(update_fields=["status", "ready_at"])
    preparation_event("pickup.ready", prep=prep, actor=actor)
    return prep


@transaction.atomic
def pickup_collected(*, order_id: int, location_id: int) -> list[Preparation]:
    """The customer took the order (``orders`` checked the code and consumed the stock)."""
    preps = lock_preparations(order_id=order_id, location_id=location_id, statuses=[PreparationStatus.READY])
    for prep in preps:
        prep.status = PreparationStatus.COLLECTED
        prep.collected_at = timezone.now()
        prep.save(update_fields=["status", "collected_at"])
    return preps


@transaction.atomic
def pickup_returned(*, order_id: int, location_id: int) -> list[Preparation]:
    """Nobody came for the order: what was set aside at the store is put back (``orders`` released the
    reservations); the preparation ends."""
    preps = lock_preparations(order_id=order_id, location_id=location_id, statuses=[PreparationStatus.READY])
    for prep in preps:
        prep.status = PreparationStatus.CANCELLED
        prep.save(update_fields=["status"])
    return preps


def pickups_flag_uncollected(*, now=None) -> list[Preparation]:
    """Orders waiting at a store for more than ``PICKUP_HOLD_DAYS`` are flagged for return to stock."""
    now = now or timezone.now()
    limit = now - timedelta(days=settings.PICKUP_HOLD_DAYS)
    preps = list(
        Preparation.objects.filter(
            status=PreparationStatus.READY, ready_at__lt=limit, uncollected_flagged_at__isnull=True
        )
    )
    Preparation.objects.filter(pk__in=[p.pk for p in preps]).update(uncollected_flagged_at=now)
    return preps
