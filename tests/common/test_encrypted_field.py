"""common.fields.EncryptedTextField and common.crypto: tokens at rest, plaintext in the model, write-only in
forms, keys from the settings (a generated key file in development), clear errors."""

import os
import stat

import pytest
from django import forms
from django.core import serializers
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection
from django.test import override_settings
from django.utils import translation

from channels.models import ChannelConnection
from common import crypto
from common.fields import CLEAR
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db

OTHER_KEY = "0fXlsLhqkiH3sBC2ofw9V6ZqAJ8cHmvqlJ7MsFVUZ_g="


def _raw(pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM orders_channelconnection WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def stored():
    return ChannelConnection.objects.create(channel=ChannelFactory(code="shop"), access_token="shpat_secret")


def test_the_database_holds_a_token_and_the_model_the_plaintext(stored):
    token = _raw(stored.pk, "access_token")
    assert token.startswith("gAAAAA") and "shpat_secret" not in token
    assert crypto.decrypt(token) == "shpat_secret"
    assert stored.access_token == "shpat_secret"  # the instance keeps the plaintext after saving
    assert ChannelConnection.objects.get(pk=stored.pk).access_token == "shpat_secret"
    assert _raw(stored.pk, "api_secret") == ""  # "not set" stays empty, without a token


def test_the_same_secret_gives_a_different_token_each_time(stored):
    first = _raw(stored.pk, "access_token")
    stored.save()
    assert _raw(stored.pk, "access_token") != first
    assert ChannelConnection.objects.get(pk=stored.pk).access_token == "shpat_secret"


def test_only_comparisons_with_not_set_are_allowed(stored):
    assert list(ChannelConnection.objects.exclude(access_token="").values_list("pk", flat=True)) == [
        stored.pk
    ]
    assert not ChannelConnection.objects.filter(api_secret__in=["", None]).exclude(pk=stored.pk).exists()
    with pytest.raises(FieldError, match="can only be compared with '' \\(not set\\), never searched"):
        list(ChannelConnection.objects.filter(access_token="shpat_secret"))
    with pytest.raises(FieldError, match="Unsupported lookup 'icontains'"):
        list(ChannelConnection.objects.filter(access_token__icontains="shpat"))


def test_serializers_never_write_a_secret_out(stored):
    dumped = serializers.serialize("json", [stored])
    assert "shpat_secret" not in dumped and '"access_token": ""' in dumped


def test_a_value_under_an_unknown_key_is_a_clear_error(stored):
    with override_settings(OMS_ENCRYPTION_KEYS=[OTHER_KEY]):
        with pytest.raises(
            crypto.DecryptionError, match="cannot be decrypted with the keys in OMS_ENCRYPTION_KEYS"
        ):
            ChannelConnection.objects.get(pk=stored.pk)


def test_an_old_key_still_decrypts_and_a_new_first_key_encrypts(stored, settings):
    old_token = _raw(stored.pk, "access_token")
    with override_settings(OMS_ENCRYPTION_KEYS=[OTHER_KEY, *settings.OMS_ENCRYPTION_KEYS]):
        assert not crypto.is_current(old_token)
        assert ChannelConnection.objects.get(pk=stored.pk).access_token == "shpat_secret"
        stored.save()
        assert crypto.is_current(_raw(stored.pk, "access_token"))
    with override_settings(OMS_ENCRYPTION_KEYS=[OTHER_KEY]):
        assert ChannelConnection.objects.get(pk=stored.pk).access_token == "shpat_secret"


class ConnectionForm(forms.ModelForm):
    class Meta:
        model = ChannelConnection
        fields = ["base_url", "access_token", "webhook_secret"]


def test_model_forms_are_write_only(stored):
    with translation.override("en"):
        html = ConnectionForm(instance=stored).as_div()
    assert "shpat_secret" not in html
    assert 'type="password"' in html and 'autocomplete="new-password"' in html
    assert html.count("Set: leave blank to keep it, or type a new one.") == 1  # the access token
    assert html.count("Not set.") == 1  # the webhook secret
    assert 'name="access_token__clear"' in html  # set: it can be erased
    assert 'name="webhook_secret__clear"' not in html  # not set: nothing to erase

    # blank keeps the stored secret
    kept = ConnectionForm({"base_url": "x.myshopify.com", "access_token": ""}, instance=stored)
    assert kept.is_valid(), kept.errors
    assert kept.changed_data == ["base_url"]
    kept.save()
    assert ChannelConnection.objects.get(pk=stored.pk).access_token == "shpat_secret"
    # a new value replaces it; the erase box clears it
    replaced = ConnectionForm(
        {"base_url": "x.myshopify.com", "access_token": "shpat_new", "webhook_secret__clear": "on"},
        instance=ChannelConnection.objects.get(pk=stored.pk),
    )
    assert replaced.is_valid(), replaced.errors
    assert replaced.cleaned_data["webhook_secret"] is CLEAR
    assert sorted(replaced.changed_data) == ["access_token"]  # nothing stored to erase: no change
    replaced.save()
    assert ChannelConnection.objects.get(pk=stored.pk).access_token == "shpat_new"
    erased = ConnectionForm(
        {"base_url": "x.myshopify.com", "access_token__clear": "on"},
        instance=ChannelConnection.objects.get(pk=stored.pk),
    )
    assert erased.is_valid() and erased.changed_data == ["access_token"]
    erased.save()
    assert _raw(stored.pk, "access_token") == ""


def test_development_key_file_is_generated_once_owner_only(tmp_path):
    key_file = tmp_path / "var" / "encryption.key"
    with override_settings(OMS_ENCRYPTION_KEYS=[], OMS_ENCRYPTION_KEY_FILE=str(key_file)):
        token = crypto.encrypt("hello")
        assert key_file.exists()
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        first = key_file.read_text()
        crypto.keys_reset()  # another process reads the same file
        assert crypto.decrypt(token) == "hello"
        assert key_file.read_text() == first


def test_no_key_at_all_is_refused_with_the_way_out():
    with override_settings(OMS_ENCRYPTION_KEYS=[], OMS_ENCRYPTION_KEY_FILE=""):
        with pytest.raises(ImproperlyConfigured, match="no key is configured in OMS_ENCRYPTION_KEYS"):
            crypto.encrypt("hello")
    with override_settings(OMS_ENCRYPTION_KEYS=["not-a-key"]):
        with pytest.raises(ImproperlyConfigured, match="key number 1 is not a Fernet key"):
            crypto.encrypt("hello")
