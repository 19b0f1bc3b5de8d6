"""orders 0016: the channel secrets stored in plain text before are encrypted by the migration, and decrypted
back when it is reversed (reversible; the keys are needed both ways)."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from channels.models import ChannelConnection
from common import crypto

BEFORE = [("orders", "0015_recoverable_jobs")]
AFTER = [("orders", "0016_encrypt_channel_secrets")]
PLAIN = {
    "api_key": "ck_old_plain",
    "access_token": "shpat_old_plain",
    "api_secret": "",
    "webhook_secret": "whsec_old",
}


def _raw() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, access_token, api_secret, webhook_secret FROM orders_channelconnection"
        )
        row = cursor.fetchone()
    return dict(zip(("api_key", "access_token", "api_secret", "webhook_secret"), row, strict=True))


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_existing_plaintext_secrets_are_encrypted_and_the_migration_reverses():
    executor = _migrate(BEFORE)
    try:
        old_apps = executor.loader.project_state(BEFORE).apps
        channel = old_apps.get_model("orders", "Channel").objects.create(
            code="shop", name="Shop", kind="shopify"
        )
        old_apps.get_model("orders", "ChannelConnection").objects.create(channel_id=channel.pk, **PLAIN)
        assert _raw() == PLAIN

        executor = _migrate(AFTER)
        stored = _raw()
        assert stored["api_secret"] == ""
        for name in ("api_key", "access_token", "webhook_secret"):
            assert stored[name].startswith("gAAAAA") and crypto.decrypt(stored[name]) == PLAIN[name]
        # running the data step again leaves tokens alone (no double encryption)
        module = importlib.import_module("orders.migrations.0016_encrypt_channel_secrets")
        module.encrypt_existing(executor.loader.project_state(BEFORE).apps, None)
        assert _raw() == stored

        _migrate(BEFORE)
        assert _raw() == PLAIN
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    connection_row = ChannelConnection.objects.get()
    assert (connection_row.api_key, connection_row.access_token, connection_row.webhook_secret) == (
        "ck_old_plain",
        "shpat_old_plain",
        "whsec_old",
    )
