"""The back office's sign-in (and the admin's) is rate-limited per IP and per username, in the cache or, while
the cache is down, in PostgreSQL: a Redis outage never opens staff accounts to password guessing."""

import pytest
from django.urls import reverse

from common import cache as common_cache
from common.models import AuditEntry, RateLimitCounter
from oms.roles import WAREHOUSE_STAFF
from tests.common.test_cache import DEAD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _closed_breaker():
    common_cache._down_until.clear()
    yield
    common_cache._down_until.clear()


def sign_in(client, password, username="wh", ip="203.0.113.9"):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_password_guessing_is_stopped_and_even_the_right_password_waits(client, role_users, settings):
    settings.STAFF_SIGNIN_RATE = "3/15m"
    answers = [sign_in(client, f"wrong-{i}").status_code for i in range(3)]
    assert answers == [200, 200, 200]

    # the fourth try is refused with a clear message, whatever the password
    refused = sign_in(client, "s3cret-pass!")
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.filter(action="staff.sign_in_failed").order_by("-pk").first()
    assert entry.actor_label == "wh" and entry.details == {"reason": "rate_limited"}


def test_the_limit_is_per_username_across_addresses(client, role_users, settings):
    settings.STAFF_SIGNIN_RATE = "2/15m"
    assert sign_in(client, "wrong", ip="198.51.100.1").status_code == 200
    assert sign_in(client, "wrong", ip="198.51.100.2").status_code == 200
    assert sign_in(client, "s3cret-pass!", ip="198.51.100.3").status_code == 429
    # another user from another address is not held by it
    response = sign_in(client, "s3cret-pass!", username="mg", ip="198.51.100.4")
    assert response.status_code == 302


def test_while_the_cache_is_down_the_database_counts(client, role_users, settings):
    # both through the fixture: an override_settings decorator mixed with it would leak on teardown
    settings.CACHES = DEAD
    settings.STAFF_SIGNIN_RATE = "2/15m"
    assert [sign_in(client, "wrong").status_code for _ in range(2)] == [200, 200]
    assert sign_in(client, "s3cret-pass!").status_code == 429
    assert RateLimitCounter.objects.exists()


def test_a_good_sign_in_within_the_limit_works(client, role_users):
    response = sign_in(client, "s3cret-pass!")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_admin_signs_in_through_the_same_limited_form(client, role_users):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/?next=/admin/"
    assert role_users[WAREHOUSE_STAFF].username == "wh"


def test_behind_a_proxy_each_client_is_limited_by_its_own_address(client, role_users, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    settings.STAFF_SIGNIN_RATE = "1/15m"

    def from_(forwarded, username):
        return client.post(
            reverse("login"),
            {"username": username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code

    # the proxy's chain "client, proxy" is read as the client's address (not a 500)
    assert from_("192.0.2.55, 10.0.0.1", "a") == 200
    assert from_("192.0.2.55, 10.0.0.2", "b") == 429
    assert from_("192.0.2.56, 10.0.0.1", "c") == 200
    # a header that is no address still gets an answer (counted under one shared key)
    assert from_("garbage", "d") == 200
