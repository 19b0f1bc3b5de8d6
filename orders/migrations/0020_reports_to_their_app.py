"""The reports became their own app (``reports``, at the top): their models (the forecast's runs and results,
the reorder policies) leave this app's state only. Their tables stay (``orders_forecastrun``..., see
reports/models.py); reports 0001 adds them to its state and moves their content types."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0019_channel_connectors_to_their_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="salesforecast",
                    name="run",
                ),
                migrations.RemoveField(
                    model_name="reorderpolicy",
                    name="location",
                ),
                migrations.RemoveField(
                    model_name="salesforecast",
                    name="product",
                ),
                migrations.DeleteModel(
                    name="ForecastRun",
                ),
                migrations.DeleteModel(
                    name="ReorderPolicy",
                ),
                migrations.DeleteModel(
                    name="SalesForecast",
                ),
            ],
            database_operations=[],
        ),
    ]
