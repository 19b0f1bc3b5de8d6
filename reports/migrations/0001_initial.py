"""The reports in their own app: the models that were ``orders``' (migration 0010 there) enter this app's state
with their tables unchanged (``db_table``), and their content types move here, so the permission
``reports.view_reports`` is the same row as ``orders.view_reports`` was (the roles keep it)."""

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
        ("orders", "0020_reports_to_their_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ForecastRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[("running", "Running"), ("done", "Done"), ("failed", "Failed")],
                                default="running",
                                max_length=8,
                                verbose_name="status",
                            ),
                        ),
                        (
                            "trigger",
                            models.CharField(
                                choices=[("manual", "Recompute button"), ("nightly", "Nightly schedule")],
                                default="manual",
                                max_length=8,
                                verbose_name="started by",
                            ),
                        ),
                        ("total", models.PositiveIntegerField(default=0, verbose_name="SKUs to compute")),
                        ("done", models.PositiveIntegerField(default=0, verbose_name="SKUs computed")),
                        ("error", models.TextField(blank=True, verbose_name="error")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="requested at")),
                        (
                            "started_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="started at"),
                        ),
                        (
                            "finished_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="finished at"),
                        ),
                        (
                            "heartbeat_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="last progress at"),
                        ),
                        (
                            "requested_by",
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
                        "verbose_name": "forecast run",
                        "verbose_name_plural": "forecast runs",
                        "db_table": "orders_forecastrun",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="ReorderPolicy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "lead_time_days",
                            models.PositiveSmallIntegerField(
                                help_text="Days from placing a purchase order to the units being on the shelf.",
                                verbose_name="lead time (days)",
                            ),
                        ),
                        (
                            "review_days",
                            models.PositiveSmallIntegerField(
                                default=7,
                                help_text="Days between two purchase lists.",
                                verbose_name="review period (days)",
                            ),
                        ),
                        (
                            "location",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="reorder_policy",
                                to="inventory.location",
                                verbose_name="location",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "reorder policy",
                        "verbose_name_plural": "reorder policies",
                        "db_table": "orders_reorderpolicy",
                        "ordering": ["location__code"],
                    },
                ),
                migrations.CreateModel(
                    name="SalesForecast",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("computed_at", models.DateTimeField(verbose_name="computed at")),
                        (
                            "method",
                            models.CharField(
                                choices=[
                                    ("holt_winters", "Holt-Winters"),
                                    ("moving_average", "Moving average"),
                                    ("no_sales", "No sales"),
                                ],
                                max_length=16,
                                verbose_name="method",
                            ),
                        ),
                        ("history_start", models.DateField(verbose_name="history from")),
                        ("history_end", models.DateField(verbose_name="history to")),
                        ("units_sold", models.PositiveIntegerField(verbose_name="units sold in the history")),
                        ("forecast_start", models.DateField(verbose_name="forecast from")),
                        ("daily", models.JSONField(default=list, verbose_name="forecast units per day")),
                        ("mape", models.FloatField(blank=True, null=True, verbose_name="backtest MAPE")),
                        (
                            "backtest_days",
                            models.PositiveSmallIntegerField(default=0, verbose_name="days held out"),
                        ),
                        ("sigma", models.FloatField(default=0, verbose_name="daily error spread")),
                        (
                            "locations",
                            models.JSONField(blank=True, default=dict, verbose_name="demand per location"),
                        ),
                        (
                            "product",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sales_forecast",
                                to="inventory.product",
                                verbose_name="product",
                            ),
                        ),
                        (
                            "run",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="reports.forecastrun",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "sales forecast",
                        "verbose_name_plural": "sales forecasts",
                        "db_table": "orders_salesforecast",
                        "ordering": ["product__sku"],
                        "permissions": [
                            ("view_reports", "Can view reports, forecasts and reorder suggestions")
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="forecastrun",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("status", "running")),
                        fields=("status",),
                        name="forecastrun_one_running",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="forecastrun",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("done__lte", models.F("total"))), name="forecastrun_done_le_total"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="reorderpolicy",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("lead_time_days__gte", 1)),
                        name="reorderpolicy_lead_time_positive",
                    ),
                ),
            ],
            database_operations=[],
        ),
        move_content_types(
            old_app="orders",
            new_app="reports",
            models=(
                "forecastrun",
                "salesforecast",
                "reorderpolicy",
            ),
        ),
    ]
