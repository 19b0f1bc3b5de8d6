"""Managers see the event log's consumers and replay parked events (``common.manage_event_consumers``)."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0006_returns_roles"),
        ("common", "0001_domain_event_log"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
