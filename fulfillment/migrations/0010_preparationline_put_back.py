"""The few preparation lines whose units wait to be put back (``put_back > 0``): a partial index, so the
pick screens find them without reading a location's every preparation (``selectors.put_backs_at``).

Built CONCURRENTLY on PostgreSQL so that a live database keeps packing meanwhile (hence ``atomic = False``);
SQLite builds it as Django would."""

from django.db import migrations, models

INDEX = models.Index(fields=["preparation"], condition=models.Q(put_back__gt=0), name="preparationline_put_back")


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS preparationline_put_back "
            "ON fulfillment_preparationline (preparation_id) WHERE put_back > 0"
        )
    else:
        schema_editor.add_index(apps.get_model("fulfillment", "PreparationLine"), INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS preparationline_put_back")
    else:
        schema_editor.remove_index(apps.get_model("fulfillment", "PreparationLine"), INDEX)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("fulfillment", "0009_scanevent_put_back")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_index, drop_index, elidable=False)],
            state_operations=[migrations.AddIndex(model_name="preparationline", index=INDEX)],
        )
    ]
