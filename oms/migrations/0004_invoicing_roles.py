"""Give the roles the invoicing permissions (view invoices, issue credit notes, send, export)."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("oms", "0003_notification_roles"), ("invoicing", "0001_initial")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
