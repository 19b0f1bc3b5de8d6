"""Channel settings: its name, kind, safety buffer, sourcing strategy, and the locations that serve it."""

from django.db import transaction

from common.audit import audit_saved, audit_snapshot

from ..models import Channel, ChannelLocation

CHANNEL_FIELDS = ("name", "kind", "safety_buffer", "sourcing_strategy", "active")


@transaction.atomic
def channel_save(*, channel: Channel, data: dict, locations: list[tuple[int, int]]) -> Channel:
    """Update a channel from validated form data and set the locations that serve it.

    ``locations`` is a list of (location id, priority): exactly these serve the channel afterwards (rows
    for other locations are deleted, existing ones keep their id). A location listed twice is a
    ``ValueError``: the form refuses it first."""
    location_ids = [location_id for location_id, _priority in locations]
    if len(set(location_ids)) != len(location_ids):
        raise ValueError("A location can serve a channel only once.")
    before = audit_snapshot(channel)
    locations_before = _served_by(channel)
    for field in CHANNEL_FIELDS:
        if field in data:
            setattr(channel, field, data[field])
    channel.full_clean()
    channel.save()
    ChannelLocation.objects.filter(channel=channel).exclude(location_id__in=location_ids).delete()
    for location_id, priority in locations:
        ChannelLocation.objects.update_or_create(
            channel=channel, location_id=location_id, defaults={"priority": priority}
        )
    locations_after = _served_by(channel)
    audit_saved(
        instance=channel,
        before=before,
        details=(
            {"locations": {"before": locations_before, "after": locations_after}}
            if locations_after != locations_before
            else None
        ),
    )
    return channel


def _served_by(channel: Channel) -> list[str]:
    """``["lyon (1)", "paris (2)"]``: the locations serving the channel, with their priority."""
    if channel.pk is None:
        return []
    rows = ChannelLocation.objects.filter(channel=channel).order_by("priority", "location__code")
    return [f"{code} ({priority})" for code, priority in rows.values_list("location__code", "priority")]
