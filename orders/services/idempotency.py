"""``Idempotency-Key`` for the REST API (Stripe's semantics, IETF draft):

- the first response to a key is stored (in the same transaction as the order) and replayed for 24 h;
- the same key with another body is 422 ``idempotency_key_reused``;
- a retry while the first request is still running is 409 ``idempotency_key_in_progress``;
- a request refused by validation stores nothing, so it can be corrected and sent again with the key.

The claim is a row insert under a unique constraint: concurrent requests with one key never both run.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from common.exceptions import DomainError
from common.inserts import insert_rows

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
        # One statement, no transaction or savepoint of its own: ``INSERT … ON CONFLICT (channel, key) DO
        # NOTHING RETURNING`` (compiled once per process, common/inserts.py); a key already there inserts
        # nothing, and is read.
        claim = IdempotencyKey(channel=channel, key=key, request_hash=fingerprint)
        if insert_rows([claim], conflict=("channel_id", "key"))[0]:
            return claim
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
    return Replay(status=existing.response_status, body=json.loads(existing.response_body))


@functools.cache
def _complete_sql() -> str:
    """``IdempotencyKey.objects.filter(pk=…).update(state=…, response_status=…, response_body=…)``, as the
    ORM compiles it, built once per process (the order intake stores its answer on every keyed request)."""
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    return (
        f'UPDATE {table} SET "state" = %s, "response_status" = %s, "response_body" = %s '  # noqa: S608
        f'WHERE {table}."id" = %s'
    )


def idempotency_complete(*, claim: IdempotencyKey, status: int, body: dict) -> None:
    """Store the answer to replay, in the caller's transaction (the order's, for the intake)."""
    answer = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if connection.vendor != "postgresql":
        IdempotencyKey.objects.filter(pk=claim.pk).update(
            state=IdempotencyKey.State.COMPLETED, response_status=status, response_body=answer
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_complete_sql(), [IdempotencyKey.State.COMPLETED.value, status, answer, claim.pk])


def idempotency_release(*, claim: IdempotencyKey) -> None:
    """Forget the claim (the request failed validation: nothing to replay)."""
    IdempotencyKey.objects.filter(pk=claim.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_purge(*, older_than: timedelta = RETENTION) -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def idempotent(
    *, channel: Channel, key: str, fingerprint: str, action: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run ``action`` (it returns the answer's status and JSON body) at most once per key: the first answer
    is stored in the action's transaction and replayed afterwards. A business refusal with 409 is stored
    and replayed too (Stripe's semantics); any other failure forgets the claim, so the request can be
    corrected and sent again with the same key. Without a key the action simply runs. Returns ``(status,
    body, replayed)``."""
    if not key:
        status, body = action()
        return status, body, False
    claim = idempotency_claim(channel=channel, key=key, fingerprint=fingerprint)
    if isinstance(claim, Replay):
        return claim.status, claim.body, True
    try:
        with transaction.atomic():
            status, body = action()
            idempotency_complete(claim=claim, status=status, body=body)
    except DomainError as exc:
        if exc.status_code == 409:
            body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
            idempotency_complete(claim=claim, status=exc.status_code, body=body)
        else:
            idempotency_release(claim=claim)
        raise
    except BaseException:
        idempotency_release(claim=claim)
        raise
    return status, body, False
