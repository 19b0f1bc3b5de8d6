"""Give the roles the new ``orders.view_reports`` permission (Manager: every permission of our apps)."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0004_invoicing_roles"),
        ("orders", "0010_reports_forecast"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
