"""The order list's customer search indexes carry the column and the id (``INCLUDE``), so that the customers
matching a name or an email prefix are read index-only (orders.selectors._search): a common name matches
tens of thousands of customers (26,000 for "Martin" among 2 M), which read from the heap cost 0.1-0.2 s.

PostgreSQL's planner only plans an index-only scan on an expression index when the expression's column is
in the index too, hence ``INCLUDE (email, id)`` and not ``INCLUDE (id)`` alone. Plain (not concurrent)
builds: 2 M customers take seconds; each index is replaced under its own name.
"""

from django.db import migrations

INDEXES = {
    "customer_email_lower_like_idx": ("email", "customers_customer (lower(email) text_pattern_ops)"),
    "customer_last_name_lower_like_idx": (
        "last_name",
        "customers_customer (lower(last_name) text_pattern_ops)",
    ),
    "customer_first_name_lower_like_idx": (
        "first_name",
        "customers_customer (lower(first_name) text_pattern_ops)",
    ),
}


def covering(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, (column, definition) in INDEXES.items():
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
            schema_editor.execute(f"CREATE INDEX {name} ON {definition} INCLUDE ({column}, id)")


def plain(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, (_column, definition) in INDEXES.items():
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
            schema_editor.execute(f"CREATE INDEX {name} ON {definition}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0007_order_changed_message")]
    operations = [migrations.RunPython(covering, plain, elidable=False)]
