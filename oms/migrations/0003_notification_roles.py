"""Give Customer service (and Manager) the notification permissions: see an order's messages, resend one."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0002_roles"),
        ("customers", "0003_notifications"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
