"""Returns in their own app: the models that were ``orders``' (migrations 0011, 0012, 0017 there) enter this
app's state with their tables unchanged (``db_table``), and their content types move here, so the permissions
``returns.manage_returns`` and ``returns.receive_return`` are the same rows (the roles' groups keep them) and
the admin's history follows."""

import django.db.models.deletion
import django.db.models.expressions
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models

from common.app_moves import move_content_types


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0008_product_customs_fields"),
        ("orders", "0018_returns_to_their_app"),
        ("shipping", "0010_carrier_account_secrets_encrypted"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ReturnReason",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.SlugField(max_length=32, unique=True, verbose_name="code")),
                        ("label", models.CharField(max_length=120, verbose_name="label")),
                        (
                            "our_fault",
                            models.BooleanField(
                                default=False,
                                help_text="The merchant's fault: shipping is refunded too.",
                                verbose_name="our fault",
                            ),
                        ),
                        ("position", models.PositiveSmallIntegerField(default=0, verbose_name="position")),
                        ("active", models.BooleanField(default=True, verbose_name="active")),
                    ],
                    options={
                        "verbose_name": "return reason",
                        "verbose_name_plural": "return reasons",
                        "db_table": "orders_returnreason",
                        "ordering": ["position", "code"],
                    },
                ),
                migrations.CreateModel(
                    name="Return",
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
                        ("number", models.CharField(max_length=32, unique=True, verbose_name="number")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("requested", "Requested"),
                                    ("label_sent", "Accepted"),
                                    ("received", "Received"),
                                    ("refunded", "Refunded"),
                                    ("rejected", "Rejected"),
                                ],
                                default="requested",
                                max_length=16,
                                verbose_name="status",
                            ),
                        ),
                        (
                            "method",
                            models.CharField(
                                choices=[("post", "By post (return label)"), ("store", "In store")],
                                max_length=8,
                                verbose_name="method",
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("portal", "Customer (portal)"),
                                    ("staff", "Customer service"),
                                    ("parcel", "Return label from the parcel (carrier's scan)"),
                                ],
                                max_length=8,
                                verbose_name="requested by",
                            ),
                        ),
                        ("note", models.TextField(blank=True, verbose_name="customer's note")),
                        (
                            "tracking_number",
                            models.CharField(blank=True, max_length=64, verbose_name="tracking number"),
                        ),
                        (
                            "label_pdf",
                            models.FileField(
                                blank=True, upload_to="returns/%Y/%m/", verbose_name="return label (PDF)"
                            ),
                        ),
                        ("label_error", models.TextField(blank=True, verbose_name="label error")),
                        (
                            "label_attempts",
                            models.PositiveSmallIntegerField(default=0, verbose_name="label attempts"),
                        ),
                        (
                            "reject_reason",
                            models.CharField(blank=True, max_length=255, verbose_name="rejection reason"),
                        ),
                        (
                            "refund_amount",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                max_digits=12,
                                null=True,
                                verbose_name="refund amount",
                            ),
                        ),
                        (
                            "refund_reference",
                            models.CharField(blank=True, max_length=100, verbose_name="payment reference"),
                        ),
                        (
                            "credit_notes",
                            models.CharField(blank=True, max_length=200, verbose_name="credit notes"),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="requested at")),
                        (
                            "accepted_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="accepted at"),
                        ),
                        (
                            "received_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="received at"),
                        ),
                        (
                            "refunded_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="refunded at"),
                        ),
                        (
                            "closed_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="rejected at"),
                        ),
                        (
                            "carrier",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="shipping.carrier",
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
                        (
                            "location",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="inventory.location",
                                verbose_name="returns to",
                            ),
                        ),
                        (
                            "order",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="returns",
                                to="orders.order",
                                verbose_name="order",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "return",
                        "verbose_name_plural": "returns",
                        "db_table": "orders_return",
                        "ordering": ["-created_at", "-id"],
                        "permissions": [
                            ("manage_returns", "Can create, accept, reject and refund returns"),
                            ("receive_return", "Can receive and inspect returns"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ReturnLine",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("quantity", models.PositiveIntegerField(verbose_name="quantity")),
                        (
                            "photo",
                            models.ImageField(
                                blank=True, upload_to="returns/photos/%Y/%m/", verbose_name="photo"
                            ),
                        ),
                        ("restocked", models.PositiveIntegerField(default=0, verbose_name="restocked")),
                        ("written_off", models.PositiveIntegerField(default=0, verbose_name="written off")),
                        (
                            "inspected_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="inspected at"),
                        ),
                        (
                            "inspected_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "location",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="inventory.location",
                            ),
                        ),
                        (
                            "order_line",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="return_lines",
                                to="orders.orderline",
                                verbose_name="order line",
                            ),
                        ),
                        (
                            "ret",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="lines",
                                to="returns.return",
                            ),
                        ),
                        (
                            "reason",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="lines",
                                to="returns.returnreason",
                                verbose_name="reason",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "return line",
                        "verbose_name_plural": "return lines",
                        "db_table": "orders_returnline",
                        "ordering": ["ret", "order_line__line_no"],
                    },
                ),
                migrations.CreateModel(
                    name="ReturnRule",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "window_days",
                            models.PositiveSmallIntegerField(
                                default=30,
                                help_text="Days from delivery during which a return is accepted.",
                                verbose_name="return window (days)",
                            ),
                        ),
                        (
                            "fee",
                            models.DecimalField(
                                decimal_places=2,
                                default=Decimal("0.00"),
                                help_text="Deducted from the refund unless the return is our fault; zero for free returns.",
                                max_digits=8,
                                verbose_name="return fee",
                            ),
                        ),
                        (
                            "channel",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="return_rule",
                                to="orders.channel",
                                verbose_name="channel",
                            ),
                        ),
                        (
                            "photo_reasons",
                            models.ManyToManyField(
                                blank=True,
                                related_name="+",
                                to="returns.returnreason",
                                verbose_name="reasons that need a photo",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "return rule",
                        "verbose_name_plural": "return rules",
                        "db_table": "orders_returnrule",
                    },
                ),
                migrations.AddIndex(
                    model_name="return",
                    index=models.Index(fields=["status", "-created_at"], name="return_status_created_idx"),
                ),
                migrations.AddConstraint(
                    model_name="return",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("refund_amount__isnull", True), ("refund_amount__gte", 0), _connector="OR"
                        ),
                        name="return_refund_not_negative",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="returnline",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("quantity__gt", 0)), name="returnline_quantity_positive"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="returnline",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            (
                                "restocked__lte",
                                django.db.models.expressions.CombinedExpression(
                                    models.F("quantity"), "-", models.F("written_off")
                                ),
                            )
                        ),
                        name="returnline_inspected_not_more_than_returned",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="returnline",
                    constraint=models.UniqueConstraint(
                        fields=("ret", "order_line"), name="returnline_unique_line"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="returnrule",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("fee__gte", 0)), name="returnrule_fee_not_negative"
                    ),
                ),
            ],
            database_operations=[],
        ),
        move_content_types(
            old_app="orders", new_app="returns", models=("return", "returnline", "returnreason", "returnrule")
        ),
    ]
