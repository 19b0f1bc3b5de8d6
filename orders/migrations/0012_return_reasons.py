"""The built-in return reasons (their labels are translated by code: orders/returns/models.py)."""

from django.db import migrations

REASONS = [
    ("changed_mind", "Changed my mind", False, 10),
    ("wrong_size", "Wrong size", False, 20),
    ("damaged", "Arrived damaged", True, 30),
    ("wrong_item", "Wrong item sent", True, 40),
    ("late", "Arrived too late", True, 50),
]


def create(apps, schema_editor):
    ReturnReason = apps.get_model("orders", "ReturnReason")
    for code, label, our_fault, position in REASONS:
        ReturnReason.objects.get_or_create(
            code=code, defaults={"label": label, "our_fault": our_fault, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0011_returns")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
