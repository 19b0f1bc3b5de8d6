# Allocations move from orders to inventory (state only: the table keeps its name), then gain the order and
# the product they are for, copied from their line, so inventory never has to read the orders' tables.

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE orders_allocation SET
    order_id = (SELECT l.order_id FROM orders_orderline l WHERE l.id = orders_allocation.line_id),
    product_id = (SELECT l.product_id FROM orders_orderline l WHERE l.id = orders_allocation.line_id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_movement_unpacked"),
        ("orders", "0013_allocation_to_inventory"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Allocation",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("quantity", models.PositiveIntegerField(verbose_name="quantity")),
                        ("kind", models.CharField(choices=[("stock", "Stock"), ("incoming", "Incoming")], default="stock", max_length=8, verbose_name="kind")),
                        ("consumed_at", models.DateTimeField(blank=True, help_text="Set when the units left with a parcel.", null=True, verbose_name="shipped at")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        ("incoming", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="inventory.incomingstock")),
                        ("location", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="inventory.location")),
                        ("line", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="allocations", to="orders.orderline")),
                    ],
                    options={
                        "verbose_name": "allocation",
                        "verbose_name_plural": "allocations",
                        "ordering": ["line", "pk"],
                        "db_table": "orders_allocation",
                        "constraints": [
                            models.CheckConstraint(condition=models.Q(("quantity__gt", 0)), name="allocation_quantity_positive"),
                            models.CheckConstraint(condition=models.Q(models.Q(("kind", "stock"), ("incoming__isnull", True)), models.Q(("kind", "incoming"), ("incoming__isnull", False)), _connector="OR"), name="allocation_kind_matches_incoming"),
                        ],
                        "indexes": [models.Index(fields=["incoming", "created_at"], name="allocation_incoming_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="allocation",
            name="order",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="allocations", to="orders.order"),
        ),
        migrations.AddField(
            model_name="allocation",
            name="product",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="inventory.product"),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="allocation",
            name="order",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="allocations", to="orders.order"),
        ),
        migrations.AlterField(
            model_name="allocation",
            name="product",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="inventory.product"),
        ),
        migrations.AddIndex(
            model_name="allocation",
            index=models.Index(condition=models.Q(("consumed_at__isnull", True), ("kind", "stock")), fields=["product", "location"], name="allocation_open_stock_idx"),
        ),
    ]
