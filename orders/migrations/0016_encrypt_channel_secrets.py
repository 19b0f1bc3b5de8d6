"""Channel credentials encrypted at rest (common.fields.EncryptedTextField, keys from OMS_ENCRYPTION_KEYS).

Three steps: the columns become text (a token is longer than the secret), every stored secret is encrypted
with the current key, then the fields become encrypted fields (no change in the database). Reversible: going
back decrypts them into the original columns (the keys are needed both ways). Safe to run on rows already
encrypted: a value that is already a token of ours is left alone."""

from django.db import migrations, models

import common.fields

SECRETS = ("api_key", "access_token", "api_secret", "webhook_secret")


def encrypt_existing(apps, schema_editor):
    from common import crypto

    Connection = apps.get_model("orders", "ChannelConnection")  # plain text fields at this step
    for row in Connection.objects.order_by("pk").values("pk", *SECRETS).iterator():
        changes = {
            name: crypto.encrypt(row[name])
            for name in SECRETS
            if row[name] and not crypto.is_token(row[name])
        }
        if changes:
            Connection.objects.filter(pk=row["pk"]).update(**changes)


def decrypt_existing(apps, schema_editor):
    from common import crypto

    Connection = apps.get_model("orders", "ChannelConnection")
    for row in Connection.objects.order_by("pk").values("pk", *SECRETS).iterator():
        changes = {
            name: crypto.decrypt(row[name]) for name in SECRETS if row[name] and crypto.is_token(row[name])
        }
        if changes:
            Connection.objects.filter(pk=row["pk"]).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0015_recoverable_jobs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channelconnection",
            name="api_key",
            field=models.TextField(
                blank=True,
                help_text="WooCommerce consumer key. PrestaShop webservice key goes in the access token.",
                verbose_name="API key",
            ),
        ),
        migrations.AlterField(
            model_name="channelconnection",
            name="access_token",
            field=models.TextField(blank=True, verbose_name="access token"),
        ),
        migrations.AlterField(
            model_name="channelconnection",
            name="api_secret",
            field=models.TextField(blank=True, verbose_name="API secret"),
        ),
        migrations.AlterField(
            model_name="channelconnection",
            name="webhook_secret",
            field=models.TextField(blank=True, verbose_name="webhook secret"),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
        migrations.AlterField(
            model_name="channelconnection",
            name="api_key",
            field=common.fields.EncryptedTextField(
                blank=True,
                default="",
                help_text="WooCommerce consumer key. PrestaShop webservice key goes in the access token.",
                verbose_name="API key",
            ),
        ),
        migrations.AlterField(
            model_name="channelconnection",
            name="access_token",
            field=common.fields.EncryptedTextField(blank=True, default="", verbose_name="access token"),
        ),
        migrations.AlterField(
            model_name="channelconnection",
            name="api_secret",
            field=common.fields.EncryptedTextField(blank=True, default="", verbose_name="API secret"),
        ),
        migrations.AlterField(
            model_name="channelconnection",
            name="webhook_secret",
            field=common.fields.EncryptedTextField(blank=True, default="", verbose_name="webhook secret"),
        ),
    ]
