"""Issue 13, point 6: every kind of channel secret saved through the connector pages is stored encrypted (no
plaintext anywhere in the database, audit log included), is never shown again, still works (a signed webhook
is accepted), and survives a key rotation."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from channels.models import ChannelConnection
from common.models import AuditEntry
from oms.roles import MANAGER
from orders.models import Channel
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory

from .conftest import post_shopify, shopify_order

pytestmark = pytest.mark.django_db

NEW_KEY = "0fXlsLhqkiH3sBC2ofw9V6ZqAJ8cHmvqlJ7MsFVUZ_g="

# One distinctive plaintext per kind of secret and channel.
PLAINTEXTS = {
    "shopify": {"access_token": "shpat_PLAIN-a81f3c2e9d", "webhook_secret": "whsec-PLAIN-shopify-77d2"},
    "woo": {
        "api_key": "ck_PLAIN-5e0b6a41c7",
        "api_secret": "cs_PLAIN-9c2d81f0ab",
        "webhook_secret": "whsec-PLAIN-woo-31aa",
    },
    "presta": {"access_token": "PSKEY-PLAIN-4B7D2E91"},
}
FORMS = {
    "shopify": {
        "base_url": "demo-shop.myshopify.com",
        "api_version": "2026-01",
        "delivery_modes": "* = home",
    },
    "woo": {"base_url": "https://woo.example.fr", "delivery_modes": "* = home"},
    "presta": {
        "base_url": "https://presta.example.fr",
        "delivery_modes": "* = home",
        "cancelled_states": "6",
    },
}
KINDS = {"shopify": Channel.Kind.SHOPIFY, "woo": Channel.Kind.WOOCOMMERCE, "presta": Channel.Kind.PRESTASHOP}


def _every_stored_text() -> str:
    """Every value of every row of every table, as text (raw SQL: no model decrypts anything)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(chunks)


def _stored_tokens() -> dict[tuple[str, str], str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.code, cc.api_key, cc.access_token, cc.api_secret, cc.webhook_secret "
            "FROM orders_channelconnection cc JOIN orders_channel c ON c.id = cc.channel_id"
        )
        rows = cursor.fetchall()
    names = ("api_key", "access_token", "api_secret", "webhook_secret")
    return {
        (row[0], name): value for row in rows for name, value in zip(names, row[1:], strict=True) if value
    }


@pytest.fixture
def channels(db):
    return {
        code: ChannelFactory(code=code, name=f"Boutique {code}", kind=kind) for code, kind in KINDS.items()
    }


@pytest.fixture
def manager_client(client):
    client.force_login(UserFactory(username="boss", role=MANAGER))
    return client


def _save_secrets_through_the_pages(client):
    for code, secrets in PLAINTEXTS.items():
        response = client.post(
            reverse("channels:connector", kwargs={"code": code}),
            {**FORMS[code], **secrets},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 302, response.content.decode()[:2000]


def test_every_secret_is_encrypted_at_rest_never_shown_and_survives_a_key_rotation(
    manager_client, channels, django_capture_on_commit_callbacks
):
    # given every kind of secret typed on the connector pages
    _save_secrets_through_the_pages(manager_client)

    # then the database holds Fernet tokens, and no plaintext anywhere (audit log included)
    stored = _every_stored_text()
    for secrets in PLAINTEXTS.values():
        for plaintext in secrets.values():
            assert plaintext not in stored
    tokens = _stored_tokens()
    assert set(tokens) == {(code, name) for code, secrets in PLAINTEXTS.items() for name in secrets}
    assert all(token.startswith("gAAAAA") for token in tokens.values())
    # the model reads them back
    for code, secrets in PLAINTEXTS.items():
        saved = ChannelConnection.objects.get(channel__code=code)
        assert {name: getattr(saved, name) for name in secrets} == secrets
    # the pages never show them again, only that they are set
    for code in PLAINTEXTS:
        page = manager_client.get(
            reverse("channels:connector", kwargs={"code": code}), HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
        assert "Set: leave blank to keep it, or type a new one." in page
        assert not any(plaintext in page for plaintext in PLAINTEXTS[code].values())
    # the audit log says which secrets were set, never their values
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_CHANGED).order_by("id")
    assert [(e.target_label, e.changes) for e in entries] == [
        (
            str(channels[code]),
            {name: {"before": "not set", "after": "set"} for name in PLAINTEXTS[code]},
        )
        for code in ("shopify", "woo", "presta")
    ]

    # when a new key is put first and the rotation command runs
    with override_settings(OMS_ENCRYPTION_KEYS=[NEW_KEY, *settings.OMS_ENCRYPTION_KEYS]):
        call_command("rotate_encryption_key", stdout=io.StringIO())

    # then every token changed, still no plaintext, and the new key alone reads every secret back
    rotated = _stored_tokens()
    assert set(rotated) == set(tokens)
    assert all(rotated[where] != tokens[where] for where in tokens)
    stored = _every_stored_text()
    assert not any(plaintext in stored for secrets in PLAINTEXTS.values() for plaintext in secrets.values())
    with override_settings(OMS_ENCRYPTION_KEYS=[NEW_KEY]):
        for code, secrets in PLAINTEXTS.items():
            saved = ChannelConnection.objects.get(channel__code=code)
            assert {name: getattr(saved, name) for name in secrets} == secrets
        # and the decrypted webhook secret still checks Shopify's signature
        with django_capture_on_commit_callbacks(execute=False):
            accepted = post_shopify(
                manager_client, "shopify", shopify_order(), secret=PLAINTEXTS["shopify"]["webhook_secret"]
            )
        assert accepted.status_code == 200
        refused = post_shopify(
            manager_client, "shopify", shopify_order(), webhook_id="wh-2", secret="whsec-wrong"
        )
        assert refused.status_code == 401


def test_a_secret_typed_again_is_recorded_as_replaced_and_an_erased_one_as_not_set(manager_client, channels):
    _save_secrets_through_the_pages(manager_client)
    url = reverse("channels:connector", kwargs={"code": "woo"})

    manager_client.post(
        url,
        {**FORMS["woo"], "api_secret": "cs_PLAIN-second", "clear_webhook_secret": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    saved = ChannelConnection.objects.get(channel__code="woo")
    assert (saved.api_key, saved.api_secret, saved.webhook_secret) == (
        "ck_PLAIN-5e0b6a41c7",
        "cs_PLAIN-second",
        "",
    )
    last = AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_CHANGED).order_by("-id").first()
    assert last.changes == {
        "api_secret": {"before": "set", "after": "replaced"},
        "webhook_secret": {"before": "set", "after": "not set"},
    }
    assert last.actor_label == "boss" and last.ip == "127.0.0.1"
    assert "cs_PLAIN-second" not in _every_stored_text()


def test_the_admin_shows_whether_each_secret_is_set_never_its_value(client, channels, manager_client):
    _save_secrets_through_the_pages(manager_client)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    saved = ChannelConnection.objects.get(channel__code="woo")

    page = client.get(
        reverse("admin:channels_channelconnection_change", args=[saved.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "API key: set, access token: not set, API secret: set, webhook secret: set" in page
    assert not any(plaintext in page for plaintext in PLAINTEXTS["woo"].values())
