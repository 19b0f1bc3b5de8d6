"""Give the roles the returns' permissions (``orders.manage_returns``, ``orders.receive_return``)."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0005_reports_permission"),
        ("orders", "0012_return_reasons"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
