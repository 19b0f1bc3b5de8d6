"""The carrier network each process keeps in memory follows its version: from the cache while Redis answers,
from its row when Redis is down or was flushed; a change raises the version once, after commit."""

import pytest
from django.core.cache import cache
from django.test import override_settings

from common import cache as common_cache
from shipping import selectors
from shipping.carriers.ratelimit import RateLimiter
from shipping.models import NetworkVersion

from .factories import CarrierServiceFactory, with_grids

pytestmark = pytest.mark.django_db(transaction=True)

DEAD = {
    "default": {
        "BACKEND": "common.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture(autouse=True)
def _closed_breaker():
    common_cache._down_until.clear()
    yield
    common_cache._down_until.clear()


def test_a_grid_saved_row_by_row_raises_the_version_once_after_commit(django_assert_num_queries):
    from django.db import transaction

    service = CarrierServiceFactory()
    before = NetworkVersion.objects.get(pk=1).version
    with transaction.atomic():
        with_grids(service)
    assert NetworkVersion.objects.get(pk=1).version == before + 1
    assert cache.get(selectors.NETWORK_VERSION_KEY) is None  # dropped: every process reads the new one

    network = selectors.network_current()
    assert cache.get(selectors.NETWORK_VERSION_KEY) == before + 1
    with django_assert_num_queries(0):  # the order path reads no row while the cache answers
        assert selectors.network_current() is network


def test_without_the_cache_the_version_is_read_from_its_row():
    service = with_grids(CarrierServiceFactory())
    with override_settings(CACHES=DEAD):
        network = selectors.network_current()
        assert network.cheapest(mode="home", weight_g=400, distance_km=100) is not None
        assert selectors.network_current() is network
        # another process changes the grids while Redis is down: this one sees it at its next read
        NetworkVersion.objects.filter(pk=1).update(version=99)
        assert selectors.network_current() is not network
    assert service.pk


def test_the_carrier_rate_limiter_counts_in_the_process_without_the_cache():
    now = [2000.5]
    with override_settings(CACHES=DEAD):
        limiter = RateLimiter("test-down", per_second=2, clock=lambda: now[0], sleep=lambda s: None)
        assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
        now[0] += 1
        assert limiter.try_acquire() is True
