"""Staff location scopes into the audit log (common.audit): whichever screen changes a StaffProfile (Django
admin today, seed_demo), its locations and "all locations" are recorded with before and after. Connected by
InventoryConfig.ready."""

from django.db.models.signals import m2m_changed, post_save, pre_save

from common.audit import Action, audit_record
from common.audit_receivers import m2m_receiver

from .models import Location, StaffProfile


def _scope_before(sender, instance, raw=False, **kwargs):
    instance._audit_all_before = (
        None
        if raw or instance.pk is None
        else sender.objects.filter(pk=instance.pk).values_list("all_locations", flat=True).first()
    )


def _scope_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    before = getattr(instance, "_audit_all_before", None)
    if created:
        audit_record(
            action=Action.SCOPE_CHANGED,
            target=instance,
            changes={"all_locations": {"before": None, "after": instance.all_locations}},
            details={"operation": "created"},
        )
    elif before is not None and before != instance.all_locations:
        audit_record(
            action=Action.SCOPE_CHANGED,
            target=instance,
            changes={"all_locations": {"before": before, "after": instance.all_locations}},
        )


def connect() -> None:
    pre_save.connect(_scope_before, sender=StaffProfile, dispatch_uid="audit.scope_before")
    post_save.connect(_scope_saved, sender=StaffProfile, dispatch_uid="audit.scope_saved")
    m2m_changed.connect(
        m2m_receiver(
            action=Action.SCOPE_CHANGED,
            field_name="locations",
            owner_model=StaffProfile,
            related_model=Location,
        ),
        sender=StaffProfile.locations.through,
        weak=False,
        dispatch_uid="audit.scope_locations",
    )
