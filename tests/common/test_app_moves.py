"""Moving a model's content type to its new app (common/app_moves.py): its permissions, the groups holding
them and the rows that point at it follow, whether the new app's content type exists already or not."""

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from common.app_moves import _move
from tests.oms.factories import UserFactory

pytestmark = pytest.mark.django_db
EDITOR = SimpleNamespace(connection=connection)


def _thing(app_label: str) -> tuple[ContentType, Permission]:
    content_type = ContentType.objects.create(app_label=app_label, model="thing")
    return content_type, Permission.objects.create(content_type=content_type, codename="do_thing", name="Do")


def test_the_content_type_is_renamed_when_the_new_app_has_none():
    # given a permission of the old app held by a group
    old, perm = _thing("oldapp")
    group = Group.objects.create(name="Movers")
    group.permissions.add(perm)

    # when the model moves
    _move(apps, EDITOR, "oldapp", "newapp", ("thing",))

    # then the same rows now belong to the new app
    old.refresh_from_db()
    assert old.app_label == "newapp"
    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [
        ("newapp", "do_thing")
    ]
    assert Permission.objects.filter(codename="do_thing").count() == 1


def test_the_old_content_type_is_merged_into_the_new_one_when_both_exist():
    # given both apps' content types (permissions created for the new app before the move ran), a group and a
    # user holding the old permission, and an admin history row on the old content type
    old, old_perm = _thing("oldapp")
    new, new_perm = _thing("newapp")
    group = Group.objects.create(name="Movers")
    group.permissions.add(old_perm)
    user = UserFactory(username="mover")
    user.user_permissions.add(old_perm)
    entry = LogEntry.objects.create(
        user=user, content_type=old, object_id="1", object_repr="thing 1", action_flag=ADDITION
    )

    # when the model moves
    _move(apps, EDITOR, "oldapp", "newapp", ("thing",))

    # then only the new one is left, holding what the old one had
    assert not ContentType.objects.filter(app_label="oldapp").exists()
    assert list(group.permissions.all()) == [new_perm]
    assert list(user.user_permissions.all()) == [new_perm]
    entry.refresh_from_db()
    assert entry.content_type_id == new.pk


def test_a_database_without_the_model_is_left_alone():
    before = ContentType.objects.count()

    _move(apps, EDITOR, "oldapp", "newapp", ("thing",))

    assert ContentType.objects.count() == before
