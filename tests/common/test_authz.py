"""A staff user's permissions, roles and "all locations" flag are kept per process (common/authz.py): read
once, then no statement per request, and every write that changes them is seen by the very next request:
a user's groups or permissions, a group's permissions, a group renamed or deleted, a staff profile. A
write inside a transaction is not kept before its commit; with the cache down PostgreSQL is asked."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction

from common import authz
from common.cache import CacheUnavailable
from inventory.models import StaffProfile
from inventory.selectors import MANAGER_GROUP, user_sees_all_locations


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run ``f`` as if its transaction committed (its after-commit callbacks run)."""

    def commit(f, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return f(*args, **kwargs)

    return commit


@pytest.fixture
def picker(db, commit):
    group = commit(Group.objects.create, name="Floor")
    commit(group.permissions.add, perm("pick"))
    user = get_user_model().objects.create_user("picker-authz", password="x")
    commit(user.groups.add, group)
    StaffProfile.objects.create(user=user)
    authz.forget()
    return user


def perm(codename):
    return Permission.objects.get(content_type__app_label="fulfillment", codename=codename)


def fresh(user):
    """The user as the next request reads it (Django's own per-object caches empty)."""
    return get_user_model().objects.get(pk=user.pk)


def test_read_once_then_no_statement(picker, django_assert_num_queries):
    user = fresh(picker)
    with django_assert_num_queries(4):  # own and group permissions, roles, the profile's flag
        assert user.has_perm("fulfillment.pick") and not user.has_perm("fulfillment.pack")
        assert not user_sees_all_locations(user=user)
    user = fresh(picker)
    with django_assert_num_queries(0):
        assert user.has_perm("fulfillment.pick") and not user.has_perm("fulfillment.pack")
        assert not user_sees_all_locations(user=user)


def test_each_write_is_seen_by_the_next_request(picker, commit):
    assert not fresh(picker).has_perm("fulfillment.pack")
    group = picker.groups.get()
    pack = perm("pack")
    commit(group.permissions.add, pack)  # a group's permissions
    assert fresh(picker).has_perm("fulfillment.pack")
    commit(pack.group_set.remove, group)  # from the other side
    assert not fresh(picker).has_perm("fulfillment.pack")
    commit(picker.user_permissions.add, pack)  # the user's own
    assert fresh(picker).has_perm("fulfillment.pack")
    commit(picker.user_permissions.clear)
    assert not fresh(picker).has_perm("fulfillment.pack")
    commit(picker.groups.remove, group)  # the user's groups
    assert not fresh(picker).has_perm("fulfillment.pick")
    commit(picker.groups.add, group)
    assert fresh(picker).has_perm("fulfillment.pick")
    commit(group.delete)  # its rows go with it, without m2m signals
    assert not fresh(picker).has_perm("fulfillment.pick")


def test_roles_and_the_all_locations_flag(picker, commit):
    assert not user_sees_all_locations(user=fresh(picker))
    managers = Group.objects.get(name=MANAGER_GROUP)
    commit(managers.user_set.add, picker)  # a role given
    assert user_sees_all_locations(user=fresh(picker))
    managers.name = "Former managers"
    commit(managers.save)  # renamed
    assert not user_sees_all_locations(user=fresh(picker))
    commit(managers.delete)
    assert not user_sees_all_locations(user=fresh(picker))
    profile = StaffProfile.objects.get(user=picker)
    profile.all_locations = True
    commit(profile.save)
    assert user_sees_all_locations(user=fresh(picker))
    commit(profile.delete)
    assert not user_sees_all_locations(user=fresh(picker))


def test_a_deactivated_user_loses_every_permission_at_once(picker):
    assert fresh(picker).has_perm("fulfillment.pick")
    get_user_model().objects.filter(pk=picker.pk).update(is_active=False)  # the user row is read per request
    assert not fresh(picker).has_perm("fulfillment.pick")


def test_not_kept_inside_the_writing_transaction(picker, django_assert_num_queries):
    assert fresh(picker).has_perm("fulfillment.pick")
    group = picker.groups.get()
    with transaction.atomic():
        group.permissions.add(perm("pack"))  # not committed yet
        first, second = fresh(picker), fresh(picker)
        assert first.has_perm("fulfillment.pack")
        with django_assert_num_queries(2):  # read again: rows of a transaction that may roll back
            assert second.has_perm("fulfillment.pack")


def test_a_write_in_another_process_is_seen_through_the_shared_token(picker):
    assert not fresh(picker).has_perm("fulfillment.pack")
    # Another process adds it: the rows change and it deletes the token; this process's copy stays.
    Group.permissions.through.objects.create(group=picker.groups.get(), permission=perm("pack"))
    cache.delete(authz.memo.key)
    assert fresh(picker).has_perm("fulfillment.pack")


def test_without_the_cache_every_request_asks_postgresql(picker, monkeypatch, django_assert_num_queries):
    def down(*args, **kwargs):
        raise CacheUnavailable("down")

    monkeypatch.setattr(cache, "get", down)
    assert fresh(picker).has_perm("fulfillment.pick")
    user = fresh(picker)
    with django_assert_num_queries(2):
        assert user.has_perm("fulfillment.pick")
