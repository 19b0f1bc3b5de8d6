"""common/cache.py: a Redis that cannot be reached raises CacheUnavailable at once, then is not tried again
for a few seconds; the helpers answer their default instead."""

import time
from unittest import mock

import pytest
from django.core.cache import caches
from django.test import override_settings

from common import cache as common_cache
from common.cache import CacheUnavailable, cache_get, cache_set, cache_status

DEAD = {
    "default": {
        "BACKEND": "common.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture(autouse=True)
def _closed_breaker():
    common_cache._down_until.clear()
    yield
    common_cache._down_until.clear()


@override_settings(CACHES=DEAD, REDIS_RETRY_AFTER_SECONDS=30)
def test_a_dead_redis_fails_fast_then_is_not_tried_for_a_while():
    cache = caches["default"]
    started = time.monotonic()
    with pytest.raises(CacheUnavailable, match="Connection refused|Error"):
        cache.get("x")
    assert time.monotonic() - started < 1
    with mock.patch("django.core.cache.backends.redis.RedisCache.get") as redis_get:
        with pytest.raises(CacheUnavailable):
            cache.get("x")
        with pytest.raises(CacheUnavailable):
            cache.add("x", 1)
    redis_get.assert_not_called()


@override_settings(CACHES=DEAD, REDIS_RETRY_AFTER_SECONDS=0)
def test_redis_is_tried_again_after_the_pause():
    cache = caches["default"]
    with pytest.raises(CacheUnavailable):
        cache.get("x")
    with mock.patch("django.core.cache.backends.redis.RedisCache.get", return_value=7) as redis_get:
        assert cache.get("x") == 7
    redis_get.assert_called_once()
    assert common_cache._down_until == {}


@override_settings(CACHES=DEAD)
def test_the_helpers_answer_their_default_without_the_cache():
    assert cache_get("x", "fallback") == "fallback"
    assert cache_set("x", 1) is False
    ok, detail = cache_status()
    assert ok is False and detail.startswith("CacheUnavailable")


def test_the_helpers_use_the_cache_when_it_answers():
    assert cache_set("x", 1) is True
    assert cache_get("x") == 1
    assert cache_status() == (True, "LocMemCache")
