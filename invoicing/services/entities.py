"""Saving the sellers and which seller invoices each channel, and when."""

from django.db import transaction

from common.audit import audit_saved, audit_snapshot

from ..models import ChannelBilling, LegalEntity


@transaction.atomic
def legal_entity_save(*, entity: LegalEntity) -> LegalEntity:
    """Save a legal entity (from a validated form). Made the default, it takes the place of the former one.
    Documents already issued keep the seller as it was (their snapshot)."""
    before = audit_snapshot(entity)
    if entity.is_default:
        LegalEntity.objects.filter(is_default=True).exclude(pk=entity.pk).update(is_default=False)
    elif not LegalEntity.objects.filter(is_default=True).exclude(pk=entity.pk).exists():
        entity.is_default = True  # there is always a default entity once there is one
    entity.save()
    audit_saved(instance=entity, before=before)
    return entity


@transaction.atomic
def channel_billing_save(*, channel, legal_entity: LegalEntity | None, issue_policy: str) -> ChannelBilling:
    existing = ChannelBilling.objects.select_for_update().filter(channel=channel).first()
    before = audit_snapshot(existing) if existing is not None else None
    billing, _created = ChannelBilling.objects.update_or_create(
        channel=channel, defaults={"legal_entity": legal_entity, "issue_policy": issue_policy}
    )
    audit_saved(instance=billing, before=before)
    return billing
