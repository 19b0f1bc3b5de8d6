"""A staff user's permissions and role names, kept per process (issue 21 point 5).

Django's ``ModelBackend`` reads a user's permissions twice per request (the user's own, then their groups'),
and ``inventory.selectors.user_sees_all_locations`` asks PostgreSQL whether the user is in the manager
group, on every floor request: among the costliest statements of the floor in pg_stat_statements (planned
on every call: the joins to ``auth_permission`` and ``django_content_type``). They change a few times a
year. ``CachedPermissionBackend`` (settings ``AUTHENTICATION_BACKENDS``) answers them from a
``common.versioned.VersionedMemo``: checked against a version token in the shared cache on each request
(one Redis GET), at most ``MAX_AGE`` seconds old, dropped by every write that changes them:

- a user's groups or permissions, a group's permissions (``m2m_changed`` on the three tables, from either
  side, whatever the model class: the admin, ``oms.roles.sync_roles`` in migrations, our services);
- a group saved (renamed) or deleted (its rows go with it), a permission or a content type saved or
  deleted.

The user row of a signed-in request (``get_user``, from the session's user id) is kept the same way in its
own memo (``users``), dropped by every save or delete of a user — a password changed, ``is_active`` or
``is_superuser`` set, the last login written — so the next request sees it; Django still checks the
session's hash against the row's password on every request, and a sign-in still reads the row to check the
password. A write that sends no signal (a queryset ``update()``: none in the project) is seen within
``MAX_AGE`` seconds. Each request gets its own instance (``from_db``), never another request's object. With
the cache down or not shared, PostgreSQL is read as before.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS

from .versioned import VersionedMemo

MAX_AGE = 10.0
memo = VersionedMemo("auth:permissions:version", setting="VERSIONED_MEMOS_CACHED", max_age=MAX_AGE)
users = VersionedMemo("auth:users:version", setting="VERSIONED_MEMOS_CACHED", max_age=MAX_AGE)

M2M_TABLES = {"auth_user_groups", "auth_user_user_permissions", "auth_group_permissions"}


class CachedPermissionBackend(ModelBackend):
    """``ModelBackend`` whose users' and groups' permissions come from this process's copy when valid."""

    def get_user(self, user_id):
        """The session's user (``ModelBackend.get_user``), its row from this process's copy when valid."""
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        fields = [field.attname for field in model._meta.concrete_fields]
        row = users.get(pk, lambda: model._default_manager.filter(pk=pk).values_list(*fields).first())
        if row is None:
            return None
        user = model.from_db(DEFAULT_DB_ALIAS, fields, row)
        return user if self.user_can_authenticate(user) else None

    def _get_permissions(self, user_obj, obj, from_name):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser:
            return super()._get_permissions(user_obj, obj, from_name)
        cache_name = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache_name):
            perms = memo.get(
                (user_obj.pk, from_name),
                lambda: frozenset(
                    super(CachedPermissionBackend, self)._get_permissions(user_obj, obj, from_name)
                ),
            )
            setattr(user_obj, cache_name, perms)
        return getattr(user_obj, cache_name)


def user_role_names(user) -> frozenset[str]:
    """The names of the user's groups (roles), from this process's copy when valid."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_role_names_cache", None)
    if cached is None:
        cached = memo.get((user.pk, "roles"), lambda: frozenset(user.groups.values_list("name", flat=True)))
        user._role_names_cache = cached
    return cached


def forget() -> None:
    """Drop this process's copy (tests: as after a commit)."""
    memo.forget()
    users.forget()


def _m2m_changed(sender, action, **kwargs):
    if action.startswith("post_") and sender._meta.db_table in M2M_TABLES:
        memo.changed()


def _written(sender, **kwargs):
    memo.changed()


def _user_written(sender, **kwargs):
    users.changed()


def connect() -> None:
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.signals import m2m_changed, post_delete, post_save

    m2m_changed.connect(_m2m_changed, dispatch_uid="authz.m2m")
    user_model = get_user_model()
    post_save.connect(_user_written, sender=user_model, dispatch_uid="authz.user_saved")
    post_delete.connect(_user_written, sender=user_model, dispatch_uid="authz.user_deleted")
    for model in (Group, Permission, ContentType):
        post_save.connect(_written, sender=model, dispatch_uid=f"authz.saved.{model._meta.label}")
        post_delete.connect(_written, sender=model, dispatch_uid=f"authz.deleted.{model._meta.label}")
