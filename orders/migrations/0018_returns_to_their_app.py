"""Returns became their own app (``returns``, above invoicing): their models leave this app's state only.
Their tables stay (``orders_return``…, see returns/models.py); returns 0001 adds them to its state and moves
their content types and permissions."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0017_return_source_label_in_parcel"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="returnline",
                    name="ret",
                ),
                migrations.RemoveField(
                    model_name="returnline",
                    name="inspected_by",
                ),
                migrations.RemoveField(
                    model_name="returnline",
                    name="location",
                ),
                migrations.RemoveField(
                    model_name="returnline",
                    name="order_line",
                ),
                migrations.RemoveField(
                    model_name="returnline",
                    name="reason",
                ),
                migrations.RemoveField(
                    model_name="returnrule",
                    name="photo_reasons",
                ),
                migrations.RemoveField(
                    model_name="returnrule",
                    name="channel",
                ),
                migrations.DeleteModel(
                    name="Return",
                ),
                migrations.DeleteModel(
                    name="ReturnLine",
                ),
                migrations.DeleteModel(
                    name="ReturnReason",
                ),
                migrations.DeleteModel(
                    name="ReturnRule",
                ),
            ],
            database_operations=[],
        ),
    ]
