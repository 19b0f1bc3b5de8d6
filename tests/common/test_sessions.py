"""A signed-in request reads neither its session row nor its user once they are kept (common/sessions.py, a
minute in Redis after the PostgreSQL row; common/authz.py, the user per process behind a version token), and
nothing that ends a session is lost: a sign-out, a password changed, a user deactivated or deleted is seen by
the very next request; with the cache down, PostgreSQL answers and a sign-out still works."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import authz
from common import cache as common_cache
from common.cache import CacheUnavailable
from common.sessions import KEY_PREFIX
from oms.roles import WAREHOUSE_STAFF

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cached_sessions(settings):
    settings.SESSIONS_CACHED = True  # as with Redis: the tests' cache is this process's
    common_cache._down_until.clear()
    yield
    common_cache._down_until.clear()


@pytest.fixture
def staff(client, django_capture_on_commit_callbacks, role_users):
    user = role_users[WAREHOUSE_STAFF]
    with django_capture_on_commit_callbacks(execute=True):  # as committed: the user may be kept
        client.force_login(user)
    authz.forget()
    return user


def tables_read(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return response, [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def url():
    return reverse("dashboard")


def test_neither_the_session_nor_the_user_is_read_once_kept(client, staff, url):
    first, _sql = tables_read(client, url)
    assert first.status_code == 200
    again, sql = tables_read(client, url)
    assert again.status_code == 200
    assert not [q for q in sql if '"django_session"' in q or 'FROM "auth_user"' in q], sql


def test_the_row_is_written_first_and_is_the_store(client, staff, url):
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    cache.clear()  # Redis flushed (or restarted empty): nothing is lost
    response, sql = tables_read(client, url)
    assert response.status_code == 200 and any('"django_session"' in q for q in sql)
    assert cache.get(KEY_PREFIX + key) is not None  # kept again


def test_a_sign_out_ends_the_session_at_once(client, staff, url):
    client.get(url)
    key = client.session.session_key
    cookie = client.cookies["sessionid"].value
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    assert cache.get(KEY_PREFIX + key) is None
    client.cookies["sessionid"] = cookie  # the old cookie replayed
    assert client.get(url).status_code == 302


def test_a_sign_out_with_the_cache_down_still_works(client, staff, url, monkeypatch):
    client.get(url)
    key = client.session.session_key

    def down(*args, **kwargs):
        raise CacheUnavailable("down")

    for name in ("get", "set", "delete"):
        monkeypatch.setattr(cache, name, down)
    assert client.get(url).status_code == 200  # PostgreSQL answers
    assert client.post(reverse("logout")).status_code == 302
    assert not Session.objects.filter(session_key=key).exists()


def test_the_copy_lives_at_most_session_cache_seconds(client, staff, url, settings, monkeypatch):
    settings.SESSION_CACHE_SECONDS = 30
    seen = []
    real_set = cache.set

    def spy(key, value, timeout=None, *args, **kwargs):
        if key.startswith(KEY_PREFIX):
            seen.append(timeout)
        return real_set(key, value, timeout, *args, **kwargs)

    monkeypatch.setattr(cache, "set", spy)
    cache.clear()
    client.get(url)
    assert seen == [30]


def test_a_password_changed_ends_the_other_sessions(client, staff, url, django_capture_on_commit_callbacks):
    client.get(url)
    client.get(url)  # the user kept
    with django_capture_on_commit_callbacks(execute=True):
        staff.set_password("another-s3cret!")
        staff.save()
    assert client.get(url).status_code == 302  # the session's hash no longer matches


def test_a_deactivated_or_deleted_user_is_signed_out(client, staff, url, django_capture_on_commit_callbacks):
    client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        staff.is_active = False
        staff.save()
    assert client.get(url).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        staff.is_active = True
        staff.save()
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        get_user_model().objects.filter(pk=staff.pk).delete()
    assert client.get(url).status_code == 302


def test_each_request_gets_its_own_user(client, staff):
    backend = authz.CachedPermissionBackend()
    first, second = backend.get_user(str(staff.pk)), backend.get_user(str(staff.pk))
    assert first == second and first is not second
    assert backend.get_user("not-a-number") is None
