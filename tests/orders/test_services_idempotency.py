from django.db import IntegrityError

from orders.models import IdempotencyKey
from orders.services.idempotency import idempotency_claim
from tests.api.factories import ChannelFactory


def test_a_key_released_between_the_refused_insert_and_the_read_is_claimed_again(db, monkeypatch):
    # given: the insert collides with a claim that its request releases right after (it was refused)
    channel = ChannelFactory(code="web")
    real_create = IdempotencyKey.objects.create
    calls = []

    def create(**kwargs):
        calls.append(kwargs["key"])
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return real_create(**kwargs)

    monkeypatch.setattr(IdempotencyKey.objects, "create", create)
    # when
    claim = idempotency_claim(channel=channel, key="k", fingerprint="f")
    # then: no crash (it used to be IdempotencyKey.DoesNotExist, a 500): the key is ours
    assert calls == ["k", "k"]
    assert isinstance(claim, IdempotencyKey)
    assert (claim.key, claim.state) == ("k", "in_progress")
