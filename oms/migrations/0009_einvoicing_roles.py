"""Give the roles the e-invoicing permissions (``invoicing.record_payment``, ``invoicing.manage_einvoicing``)."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0008_audit_log_role"),
        ("invoicing", "0005_einvoicing_reform"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
