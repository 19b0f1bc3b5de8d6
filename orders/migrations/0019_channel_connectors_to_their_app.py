"""The channel connectors became their own app (``channels``, above orders): their models leave this app's
state only. Their tables stay (``orders_channelconnection``..., see channels/models.py); channels 0001 adds them
to its state and moves their content types."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0018_returns_to_their_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="channelconnection",
                    name="channel",
                ),
                migrations.RemoveField(
                    model_name="channelfulfillment",
                    name="channel",
                ),
                migrations.RemoveField(
                    model_name="channelfulfillment",
                    name="shipment",
                ),
                migrations.RemoveField(
                    model_name="channellisting",
                    name="channel",
                ),
                migrations.RemoveField(
                    model_name="channellisting",
                    name="product",
                ),
                migrations.RemoveField(
                    model_name="importjob",
                    name="channel",
                ),
                migrations.RemoveField(
                    model_name="importjob",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="channel",
                ),
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="order",
                ),
                migrations.DeleteModel(
                    name="AvailabilityChange",
                ),
                migrations.DeleteModel(
                    name="ChannelConnection",
                ),
                migrations.DeleteModel(
                    name="ChannelFulfillment",
                ),
                migrations.DeleteModel(
                    name="ChannelListing",
                ),
                migrations.DeleteModel(
                    name="ImportJob",
                ),
                migrations.DeleteModel(
                    name="WebhookDelivery",
                ),
            ],
            database_operations=[],
        ),
    ]
