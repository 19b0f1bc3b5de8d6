from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Channel, IdempotencyKey
from orders.tasks import purge_idempotency_keys


@pytest.mark.django_db
def test_purge_forgets_keys_older_than_a_day():
    channel = Channel.objects.create(code="web", name="Web")
    old = IdempotencyKey.objects.create(channel=channel, key="old", request_hash="x")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.create(channel=channel, key="new", request_hash="y")

    assert purge_idempotency_keys.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
