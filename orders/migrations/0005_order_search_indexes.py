"""Indexes for the order list: search by a channel's external id (exact or prefix) without the channel,
which the (channel, external_id) unique index cannot serve. The order number already has Django's
``varchar_pattern_ops`` index (``unique=True``); status, channel and date use the indexes of 0001.

PostgreSQL only, built CONCURRENTLY so that a live database keeps taking orders (hence ``atomic = False``).
"""

from django.db import migrations

INDEXES = {
    "order_external_id_like_idx": "orders_order (external_id varchar_pattern_ops)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("orders", "0004_order_planned_ship_date")]
    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
