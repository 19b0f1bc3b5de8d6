"""The order number is the database's default (``orders_next_order_number()``): the sequence's next value
formatted as ``CMD-<year>-<000001>``, the year in the project's time zone (as ``next_order_number`` did in
Python), so intake's INSERT returns it without a statement of its own. SQLite keeps numbering in Python."""

import re

from django.conf import settings
from django.db import migrations, models

import orders.models


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    if not re.fullmatch(r"[A-Za-z0-9_+/-]+", settings.TIME_ZONE):
        raise ValueError(f"Unexpected TIME_ZONE {settings.TIME_ZONE!r}")
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION orders_next_order_number() RETURNS varchar LANGUAGE sql VOLATILE AS $$
            SELECT 'CMD-' || to_char(now() AT TIME ZONE '{settings.TIME_ZONE}', 'YYYY') || '-'
                || lpad(n::text, greatest(6, length(n::text)), '0')
            FROM (SELECT nextval('orders_order_number_seq') AS n) AS next
        $$
        """
    )


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS orders_next_order_number()")


class Migration(migrations.Migration):
    dependencies = [("orders", "0021_idempotency_answer_as_sent")]

    operations = [
        migrations.RunPython(create_function, drop_function),
        migrations.AlterField(
            model_name="order",
            name="number",
            field=models.CharField(
                db_default=orders.models.NextOrderNumber(), max_length=32, unique=True, verbose_name="number"
            ),
        ),
    ]
