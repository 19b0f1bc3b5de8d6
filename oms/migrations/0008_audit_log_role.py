"""Managers read the audit log (common.view_auditentry): ``common`` joins the apps whose permissions they
have."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0007_event_consumers_permission"),
        ("common", "0003_audit_log"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
