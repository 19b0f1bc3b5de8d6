"""common/ratelimit.py: rate limits counted in the cache, and in the database while the cache is down."""

from unittest import mock

import pytest
from django.db import DatabaseError
from django.test import RequestFactory, override_settings

from common import cache as common_cache
from common.models import RateLimitCounter
from common.ratelimit import is_limited, parse_rate

from .test_cache import DEAD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _closed_breaker():
    common_cache._down_until.clear()
    yield
    common_cache._down_until.clear()


def post(ip="203.0.113.7", email="ana@example.fr"):
    return RequestFactory().post("/account/signin/", {"email": email}, REMOTE_ADDR=ip)


def by_email(group, request):
    return request.POST["email"]


@pytest.mark.parametrize(
    ("rate", "expected"), [("10/15m", (10, 900)), ("20/h", (20, 3600)), ("5/s", (5, 1)), ("7/", (7, 1))]
)
def test_rates_are_read_as_django_ratelimit_reads_them(rate, expected):
    assert parse_rate(rate) == expected


def test_a_rate_without_a_count_is_refused():
    with pytest.raises(ValueError, match="Not a rate"):
        parse_rate("often")


def test_the_cache_counts_when_it_answers():
    results = [is_limited(post(), group="signin", key="ip", rate="3/15m") for _ in range(4)]
    assert results == [False, False, False, True]
    assert not RateLimitCounter.objects.exists()


@override_settings(CACHES=DEAD)
def test_the_database_counts_while_the_cache_is_down():
    results = [is_limited(post(), group="signin", key=by_email, rate="3/15m") for _ in range(4)]
    assert results == [False, False, False, True]
    # another key has its own window; another group too
    assert is_limited(post(email="other@example.fr"), group="signin", key=by_email, rate="3/15m") is False
    assert is_limited(post(), group="lookup", key=by_email, rate="3/15m") is False
    assert sorted(RateLimitCounter.objects.values_list("count", flat=True)) == [1, 1, 4]
    assert is_limited(post(ip="198.51.100.1"), group="ip", key="ip", rate="1/h") is False
    assert is_limited(post(ip="198.51.100.1"), group="ip", key="ip", rate="1/h") is True


@override_settings(CACHES=DEAD)
def test_refused_when_neither_the_cache_nor_the_database_can_count():
    with mock.patch.object(RateLimitCounter.objects, "filter", side_effect=DatabaseError("down")):
        assert is_limited(post(), group="signin", key="ip", rate="100/h") is True
