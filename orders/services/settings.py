"""Managers' settings of the orders app that used to be edited in Django admin: each channel's return rule,
the return reasons, and each location's reorder policy (lead time and review period)."""

from django.db import transaction

from ..models import Channel, ReorderPolicy, ReturnReason, ReturnRule


@transaction.atomic
def return_rule_save(*, channel: Channel, window_days: int, fee, photo_reasons) -> ReturnRule:
    """Create or change a channel's return rule (window from delivery, fee, reasons that need a photo)."""
    rule, _created = ReturnRule.objects.get_or_create(channel=channel)
    rule.window_days = window_days
    rule.fee = fee
    rule.full_clean()
    rule.save()
    rule.photo_reasons.set(photo_reasons)
    return rule


@transaction.atomic
def return_reason_save(*, reason: ReturnReason, data: dict) -> ReturnReason:
    """Create or change a return reason. The code of an existing reason stays (returns name it)."""
    for field in ("label", "our_fault", "position", "active"):
        if field in data:
            setattr(reason, field, data[field])
    if reason.pk is None:
        reason.code = data["code"]
    reason.full_clean()
    reason.save()
    return reason


@transaction.atomic
def reorder_policy_save(*, location, lead_time_days: int, review_days: int) -> ReorderPolicy:
    policy, _created = ReorderPolicy.objects.get_or_create(
        location=location, defaults={"lead_time_days": lead_time_days, "review_days": review_days}
    )
    policy.lead_time_days = lead_time_days
    policy.review_days = review_days
    policy.full_clean()
    policy.save()
    return policy


def reorder_policy_reset(*, location) -> int:
    """Back to the default of the location's kind (settings)."""
    deleted, _per_model = ReorderPolicy.objects.filter(location=location).delete()
    return deleted
