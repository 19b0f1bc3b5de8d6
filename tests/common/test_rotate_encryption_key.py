"""manage.py rotate_encryption_key: every encrypted field of every model, re-encrypted with the first key;
idempotent, resumable, ``--check`` before removing the old key, clear failure for a value no key opens."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from channels.models import ChannelConnection
from common import crypto
from common.management.commands.rotate_encryption_key import encrypted_fields
from common.models import AuditEntry
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db

NEW_KEY = "0fXlsLhqkiH3sBC2ofw9V6ZqAJ8cHmvqlJ7MsFVUZ_g="


def _tokens() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, api_key, access_token, api_secret, webhook_secret "
            "FROM orders_channelconnection ORDER BY id"
        )
        return cursor.fetchall()


def _run(*args) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def connections():
    return [
        ChannelConnection.objects.create(
            channel=ChannelFactory(code=f"shop{n}"), access_token=f"token-{n}", webhook_secret=f"whsec-{n}"
        )
        for n in range(3)
    ]


@pytest.fixture
def rotation(settings):
    with override_settings(OMS_ENCRYPTION_KEYS=[NEW_KEY, *settings.OMS_ENCRYPTION_KEYS]):
        yield


def test_every_encrypted_field_is_found_by_itself():
    found = {model._meta.label: [f.name for f in fields] for model, fields in encrypted_fields()}
    assert found["channels.ChannelConnection"] == [
        "api_key",
        "access_token",
        "api_secret",
        "webhook_secret",
        "refresh_token",
    ]


def test_rotation_re_encrypts_everything_once(connections, rotation):
    before = _tokens()

    check = io.StringIO()
    with pytest.raises(CommandError, match="6 secrets still need an old key") as refused:
        call_command("rotate_encryption_key", "--check", stdout=check)
    assert refused.value.returncode == 1
    assert "0 secrets under the current key, 6 under an old key." in check.getvalue()
    assert _tokens() == before  # --check changes nothing

    out = _run("--batch-size", "2")
    assert "6 secrets re-encrypted with the current key, 0 already under it." in out
    after = _tokens()
    assert all(crypto.is_current(value) for row in after for value in row[1:] if value)
    assert [row[0] for row in after] == [row[0] for row in before]
    assert all(row[3] == "" and row[1] == "" for row in after)  # not set stays not set

    again = _run()
    assert "0 secrets re-encrypted with the current key, 6 already under it." in again
    assert _tokens() == after  # idempotent
    assert "6 secrets under the current key, 0 under an old key." in _run("--check")

    with override_settings(OMS_ENCRYPTION_KEYS=[NEW_KEY]):  # the old key can go
        assert [(c.access_token, c.webhook_secret) for c in ChannelConnection.objects.order_by("id")] == [
            (f"token-{n}", f"whsec-{n}") for n in range(3)
        ]
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_CHANGED).get()
    assert entry.details == {"operation": "rotated", "rotated": 6, "current": 0}
    assert entry.actor_kind == "system"


def test_an_interrupted_rotation_resumes_where_it_stopped(connections, rotation):
    # given the first row already rotated (a run killed after its first batch)
    first = connections[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, webhook_secret FROM orders_channelconnection WHERE id = %s", [first.pk]
        )
        token, secret = cursor.fetchone()
        cursor.execute(
            "UPDATE orders_channelconnection SET access_token = %s, webhook_secret = %s WHERE id = %s",
            [crypto.rotate(token), crypto.rotate(secret), first.pk],
        )
    done = _tokens()[0]

    out = _run()

    assert "4 secrets re-encrypted with the current key, 2 already under it." in out
    assert _tokens()[0] == done  # not touched again


def test_a_value_no_key_opens_is_reported_and_the_rest_rotated(connections, rotation):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_channelconnection SET api_key = %s WHERE id = %s",
            ["not-a-token", connections[1].pk],
        )

    with pytest.raises(
        CommandError, match=r"1 secrets cannot be decrypted .*: channels.ChannelConnection.api_key #"
    ):
        _run()

    assert all(
        crypto.is_current(value) for row in _tokens() for value in row[1:] if value and value != "not-a-token"
    )
