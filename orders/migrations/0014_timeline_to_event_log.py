# The order timeline becomes the domain event log (common.DomainEvent): every OrderEvent row is copied into
# the log with a dotted code, its data, who and when; its sentence (stored in French by the old code) is kept
# as ``legacy_text``, which the timeline shows as it is. The rows get no transaction id, so no consumer of
# the log ever handles them: they are history, not news. One-way.

from django.db import migrations

CODES = {
    "created": "order.created",
    "sourcing": "order.sourced",
    "promise": "order.promised",
    "reserved": "stock.reserved",
    "status_changed": "order.status_changed",
    "short_pick": "order.resourced",
    "picked": "preparation.picked",
    "packed": "parcel.closed",
    "shipping_rule": "order.shipping_rule",
    "stock_arrived": "stock.incoming_received",
    "handed_over": "parcels.handed_over",
    "tracking": "shipment.status_changed",
    "not_collected": "order.not_collected",
    "pickup_partly_ready": "pickup.ready",
    "channel": "order.channel_received",
    "channel_update": "order.channel_update",
    "channel_fulfilment": "order.channel_fulfilment",
    "invoice_issued": "invoice.issued",
    "credit_note_issued": "credit_note.issued",
    "invoice_not_issued": "invoice.not_issued",
    "return_requested": "return.requested",
    "return_accepted": "return.accepted",
    "return_rejected": "return.rejected",
    "return_label_failed": "return.label_failed",
    "return_label": "return.label_sent",
    "return_received": "return.received",
    "return_refunded": "return.refunded",
}


def _payload(event) -> dict:
    data = dict(event.data or {})
    payload = {**data, "legacy_text": event.message, "legacy_type": event.type}
    if event.type in ("short_pick", "picked", "packed", "return_received") and "location" in data:
        payload["location_code"] = data["location"]
    if event.type.startswith("return_") and "return" in data:
        payload["number"] = data["return"]
    return payload


def forwards(apps, schema_editor):
    OrderEvent = apps.get_model("orders", "OrderEvent")
    DomainEvent = apps.get_model("common", "DomainEvent")
    batch = []
    for event in OrderEvent.objects.order_by("pk").iterator(chunk_size=5000):
        batch.append(
            DomainEvent(
                code=CODES.get(event.type, f"order.{event.type}"),
                version=1,
                payload=_payload(event),
                order_id=event.order_id,
                actor_id=event.actor_id,
                xid=None,
                created_at=event.at,
            )
        )
        if len(batch) >= 5000:
            DomainEvent.objects.bulk_create(batch)
            batch = []
    if batch:
        DomainEvent.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0013_allocation_to_inventory"),
        ("common", "0001_domain_event_log"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.DeleteModel(name="OrderEvent"),
    ]
