# Allocations (reservations) now belong to inventory; the table and its rows stay where they are
# (inventory.Allocation has db_table = "orders_allocation"). State only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0012_return_reasons"),
        ("inventory", "0004_movement_unpacked"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Allocation")],
            database_operations=[],
        ),
    ]
