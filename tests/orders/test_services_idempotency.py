from orders.models import IdempotencyKey
from orders.services import idempotency
from orders.services.idempotency import idempotency_claim
from tests.api.factories import ChannelFactory


def test_a_key_released_between_the_refused_insert_and_the_read_is_claimed_again(db, monkeypatch):
    # given: the insert collides with a claim that its request releases right after (it was refused)
    channel = ChannelFactory(code="web")
    real_insert = idempotency.insert_rows
    calls = []

    def insert(rows, **kwargs):
        calls.append(rows[0].key)
        if len(calls) == 1:
            return [False]  # ON CONFLICT DO NOTHING met the other request's claim
        return real_insert(rows, **kwargs)

    monkeypatch.setattr(idempotency, "insert_rows", insert)
    # when
    claim = idempotency_claim(channel=channel, key="k", fingerprint="f")
    # then: no crash (it used to be IdempotencyKey.DoesNotExist, a 500): the key is ours
    assert calls == ["k", "k"]
    assert isinstance(claim, IdempotencyKey)
    assert (claim.key, claim.state) == ("k", "in_progress")
