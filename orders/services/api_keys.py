from django.db import transaction
from django.utils import timezone

from common.audit import Action, audit_record

from ..models import ApiKey, Channel


@transaction.atomic
def api_key_create(*, channel: Channel, scopes: list[str], name: str = "") -> tuple[ApiKey, str]:
    """A new key for the channel. Returns the row and the raw key, which is never stored nor shown again."""
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown or not scopes:
        raise ValueError(
            f"Scopes must be among {', '.join(ApiKey.Scope.values)}; got {', '.join(scopes) or 'none'}."
        )
    raw, prefix, hashed = ApiKey.generate()
    key = ApiKey.objects.create(
        channel=channel, name=name, prefix=prefix, hashed_key=hashed, scopes=sorted(set(scopes))
    )
    audit_record(action=Action.API_KEY_CREATED, target=key, details=_key_details(key))
    return key, raw


def _key_details(key: ApiKey) -> dict:
    """What identifies a key in the audit log: its channel, name, scopes and public prefix (never the key)."""
    return {"channel": key.channel.code, "name": key.name, "prefix": key.prefix, "scopes": key.scopes}


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(action=Action.API_KEY_REVOKED, target=key, details=_key_details(key))
    return key


def api_key_touch(*, key: ApiKey, min_interval_seconds: int = 60) -> None:
    """Record the last use, at most once a minute per key (no write on every request)."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= min_interval_seconds:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
