"""``Idempotency-Key`` for the REST API (Stripe's semantics, IETF draft):

- the first response to a key is stored (in the same transaction as the order) and replayed for 24 h;
- the same key with another body is 422 ``idempotency_key_reused``;
- a retry while the first request is still running is 409 ``idempotency_key_in_progress``;
- a request refused by validation stores nothing, so it can be corrected and sent again with the key.

The claim is a row insert under a unique constraint: concurrent requests with one key never both run.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..exceptions import IdempotencyKeyInProgress, IdempotencyKeyReused
from ..models import Channel, IdempotencyKey

RETENTION = timedelta(hours=24)
# A claim older than this is an abandoned request (a crashed worker): it may be taken over.
STALE_AFTER = timedelta(minutes=5)


@dataclass
class Replay:
    status: int
    body: dict


def request_fingerprint(payload) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def idempotency_claim(*, channel: Channel, key: str, fingerprint: str) -> IdempotencyKey | Replay:
    """Claim the key for this request, or return the stored answer to replay."""
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(channel=channel, key=key, request_hash=fingerprint)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(channel=channel, key=key).first()
        if existing is not None:
            return _claim_existing(existing=existing, key=key, fingerprint=fingerprint, now=now)
        # The request holding the key released it meanwhile (it was refused): claim it again.
    raise IdempotencyKeyInProgress(details={"key": key})


def _claim_existing(*, existing: IdempotencyKey, key: str, fingerprint: str, now) -> IdempotencyKey | Replay:
    if existing.created_at < now - RETENTION or (
        existing.state == IdempotencyKey.State.IN_PROGRESS and existing.created_at < now - STALE_AFTER
    ):
        # Expired, or abandoned: take it over, unless another request just did.
        taken = IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).update(
            request_hash=fingerprint,
            state=IdempotencyKey.State.IN_PROGRESS,
            response_status=None,
            response_body=None,
            created_at=now,
        )
        if taken:
            existing.refresh_from_db()
            return existing
        raise IdempotencyKeyInProgress(details={"key": key})
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.", details={"key": key}
        )
    if existing.state == IdempotencyKey.State.IN_PROGRESS:
        raise IdempotencyKeyInProgress(
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
            details={"key": key},
        )
    return Replay(status=existing.response_status, body=existing.response_body)


def idempotency_complete(*, claim: IdempotencyKey, status: int, body: dict) -> None:
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        state=IdempotencyKey.State.COMPLETED, response_status=status, response_body=body
    )


def idempotency_release(*, claim: IdempotencyKey) -> None:
    """Forget the claim (the request failed validation: nothing to replay)."""
    IdempotencyKey.objects.filter(pk=claim.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_purge(*, older_than: timedelta = RETENTION) -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
