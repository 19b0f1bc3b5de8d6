"""Give the roles their permissions again now that returns, the channel connectors and the reports are apps
of their own: a manager has every permission of ``oms.roles.PROJECT_APPS`` (``reports.view_reports``
included), the other roles name ``returns.manage_returns`` / ``returns.receive_return``. The permissions
are the same rows as before (their content types moved, see common/app_moves.py), so nothing is lost if
this runs twice."""

from django.db import migrations


def sync(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0009_einvoicing_roles"),
        ("returns", "0001_initial"),
        ("channels", "0001_initial"),
        ("reports", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
