"""Indexes for the order list's search by customer email and name (prefix, any case): ``lower(...)`` with
``text_pattern_ops`` so that ``LIKE 'abc%'`` uses them whatever the database's collation.

PostgreSQL only (SQLite needs none for its sizes), built CONCURRENTLY so that a live database keeps
taking orders meanwhile (hence ``atomic = False``).
"""

from django.db import migrations

INDEXES = {
    "customer_email_lower_like_idx": "customers_customer (lower(email) text_pattern_ops)",
    "customer_last_name_lower_like_idx": "customers_customer (lower(last_name) text_pattern_ops)",
    "customer_first_name_lower_like_idx": "customers_customer (lower(first_name) text_pattern_ops)",
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
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
