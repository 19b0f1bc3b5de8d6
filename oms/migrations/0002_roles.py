"""Create the roles of DESIGN.md (Warehouse staff, Store staff, Customer service, Manager)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from oms.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0001_initial"),
        ("inventory", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
