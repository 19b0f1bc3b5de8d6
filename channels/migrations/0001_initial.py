"""The channel connectors in their own app: the models that were ``orders``' (migrations 0008, 0015, 0016
there) enter this app's state with their tables unchanged (``db_table``), and their content types move here
(permissions, the admin's history)."""

import common.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from common.app_moves import move_content_types


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0008_product_customs_fields"),
        ("orders", "0019_channel_connectors_to_their_app"),
        ("shipping", "0010_carrier_account_secrets_encrypted"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ChannelConnection",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "job_due_at",
                            models.DateTimeField(
                                blank=True, db_index=True, null=True, verbose_name="job due at"
                            ),
                        ),
                        (
                            "job_lease_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="job leased until"),
                        ),
                        (
                            "job_attempts",
                            models.PositiveSmallIntegerField(default=0, verbose_name="job attempts"),
                        ),
                        (
                            "base_url",
                            models.CharField(
                                blank=True,
                                help_text="Shopify: my-shop.myshopify.com. WooCommerce and PrestaShop: https://shop.example.fr.",
                                max_length=255,
                                verbose_name="shop address",
                            ),
                        ),
                        (
                            "api_version",
                            models.CharField(
                                blank=True, default="2026-01", max_length=16, verbose_name="API version"
                            ),
                        ),
                        (
                            "api_key",
                            common.fields.EncryptedTextField(
                                blank=True,
                                default="",
                                help_text="WooCommerce consumer key. PrestaShop webservice key goes in the access token.",
                                verbose_name="API key",
                            ),
                        ),
                        (
                            "access_token",
                            common.fields.EncryptedTextField(
                                blank=True, default="", verbose_name="access token"
                            ),
                        ),
                        (
                            "api_secret",
                            common.fields.EncryptedTextField(
                                blank=True, default="", verbose_name="API secret"
                            ),
                        ),
                        (
                            "webhook_secret",
                            common.fields.EncryptedTextField(
                                blank=True, default="", verbose_name="webhook secret"
                            ),
                        ),
                        (
                            "remote_location_id",
                            models.CharField(
                                blank=True,
                                help_text="Shopify location whose available quantities we set (gid://shopify/Location/…).",
                                max_length=100,
                                verbose_name="remote location",
                            ),
                        ),
                        (
                            "push_stock",
                            models.BooleanField(default=False, verbose_name="push stock to the channel"),
                        ),
                        (
                            "poll_orders",
                            models.BooleanField(default=False, verbose_name="poll orders (PrestaShop)"),
                        ),
                        (
                            "delivery_modes",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text="Shipping method title → home, relay:<carrier> or store:<store code>.",
                                verbose_name="delivery modes by shipping method",
                            ),
                        ),
                        (
                            "import_mapping",
                            models.JSONField(blank=True, default=dict, verbose_name="import column mapping"),
                        ),
                        (
                            "cancelled_states",
                            models.CharField(
                                blank=True,
                                default="6",
                                help_text="PrestaShop order state ids that mean cancelled, comma-separated.",
                                max_length=100,
                                verbose_name="cancelled order states",
                            ),
                        ),
                        ("order_cursor", models.CharField(blank=True, max_length=64)),
                        ("stock_cursor", models.CharField(blank=True, max_length=255)),
                        (
                            "last_order_sync_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="last order sync"),
                        ),
                        (
                            "last_stock_push_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="last stock push"),
                        ),
                        ("last_error", models.TextField(blank=True, verbose_name="last error")),
                        (
                            "last_error_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="last error at"),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "channel",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="connection",
                                to="orders.channel",
                                verbose_name="channel",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "channel connection",
                        "verbose_name_plural": "channel connections",
                        "db_table": "orders_channelconnection",
                    },
                ),
                migrations.CreateModel(
                    name="ChannelFulfillment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "state",
                            models.CharField(
                                choices=[("pending", "Pending"), ("done", "Sent"), ("failed", "Failed")],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("remote_id", models.CharField(blank=True, max_length=100)),
                        ("error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="orders.channel",
                            ),
                        ),
                        (
                            "shipment",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="channel_fulfillment",
                                to="shipping.shipment",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "fulfilment sent to a channel",
                        "verbose_name_plural": "fulfilments sent to channels",
                        "db_table": "orders_channelfulfillment",
                    },
                ),
                migrations.CreateModel(
                    name="ImportJob",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "job_due_at",
                            models.DateTimeField(
                                blank=True, db_index=True, null=True, verbose_name="job due at"
                            ),
                        ),
                        (
                            "job_lease_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="job leased until"),
                        ),
                        (
                            "job_attempts",
                            models.PositiveSmallIntegerField(default=0, verbose_name="job attempts"),
                        ),
                        ("file", models.FileField(upload_to="imports/%Y/%m/", verbose_name="file")),
                        ("filename", models.CharField(max_length=255, verbose_name="file name")),
                        ("dry_run", models.BooleanField(default=True, verbose_name="dry run")),
                        ("mapping", models.JSONField(default=dict)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Waiting"),
                                    ("running", "Running"),
                                    ("done", "Done"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=16,
                                verbose_name="status",
                            ),
                        ),
                        ("total_rows", models.PositiveIntegerField(default=0)),
                        ("processed_rows", models.PositiveIntegerField(default=0)),
                        ("orders_created", models.PositiveIntegerField(default=0)),
                        ("orders_skipped", models.PositiveIntegerField(default=0)),
                        ("errors", models.JSONField(blank=True, default=list)),
                        ("message", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="import_jobs",
                                to="orders.channel",
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "order import",
                        "verbose_name_plural": "order imports",
                        "db_table": "orders_importjob",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="AvailabilityChange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("xid", models.BigIntegerField(default=0)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "product",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="inventory.product",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "availability change",
                        "verbose_name_plural": "availability changes",
                        "db_table": "orders_availabilitychange",
                        "indexes": [models.Index(fields=["xid", "id"], name="availchange_xid_idx")],
                    },
                ),
                migrations.CreateModel(
                    name="ChannelListing",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("remote_id", models.CharField(max_length=100)),
                        ("extra", models.JSONField(blank=True, default=dict)),
                        ("last_pushed_quantity", models.IntegerField(blank=True, null=True)),
                        ("last_pushed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="listings",
                                to="orders.channel",
                            ),
                        ),
                        (
                            "product",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="inventory.product",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "channel listing",
                        "verbose_name_plural": "channel listings",
                        "db_table": "orders_channellisting",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("channel", "product"), name="listing_channel_product_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "job_due_at",
                            models.DateTimeField(
                                blank=True, db_index=True, null=True, verbose_name="job due at"
                            ),
                        ),
                        (
                            "job_lease_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="job leased until"),
                        ),
                        (
                            "job_attempts",
                            models.PositiveSmallIntegerField(default=0, verbose_name="job attempts"),
                        ),
                        ("delivery_id", models.CharField(max_length=255, verbose_name="delivery id")),
                        ("topic", models.CharField(max_length=64, verbose_name="topic")),
                        ("headers", models.JSONField(blank=True, default=dict)),
                        ("payload", models.TextField(verbose_name="payload")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("received", "Received"),
                                    ("processed", "Processed"),
                                    ("ignored", "Ignored"),
                                    ("failed", "Failed"),
                                ],
                                default="received",
                                max_length=16,
                                verbose_name="status",
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                        (
                            "error_code",
                            models.CharField(blank=True, max_length=64, verbose_name="error code"),
                        ),
                        ("error", models.TextField(blank=True, verbose_name="error")),
                        ("error_details", models.JSONField(blank=True, default=dict)),
                        (
                            "external_id",
                            models.CharField(blank=True, max_length=100, verbose_name="external id"),
                        ),
                        ("received_at", models.DateTimeField(auto_now_add=True, verbose_name="received at")),
                        (
                            "processed_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="processed at"),
                        ),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="orders.channel",
                                verbose_name="channel",
                            ),
                        ),
                        (
                            "order",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="orders.order",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "channel delivery",
                        "verbose_name_plural": "channel deliveries",
                        "db_table": "orders_webhookdelivery",
                        "ordering": ["-received_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["channel", "status", "-received_at"], name="delivery_status_idx"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("channel", "delivery_id"), name="delivery_channel_id_unique"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        move_content_types(
            old_app="orders",
            new_app="channels",
            models=(
                "channelconnection",
                "webhookdelivery",
                "channellisting",
                "channelfulfillment",
                "availabilitychange",
                "importjob",
            ),
        ),
    ]
