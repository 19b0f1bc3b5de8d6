"""The HubSpot connector: what changed is marked (``HubspotRecord.dirty_at``) by a consumer of the event log
or by a resync, then pushed in batches by one job at a time (``hubspot_push``), contacts before deals.

- Contacts are upserted by email; deals by the order number (a unique deal property), so a push repeated
  after a crash or a lost answer updates, never duplicates. Deal: name, amount (the order's total), pipeline,
  stage mapped from the order's status (``HubspotConnection.stages``), close date; associated with the
  customer's contact; its line items (SKU, name, quantity, unit price) replaced when the lines changed.
- A record is "clean" again only if nothing marked it meanwhile (compare-and-set on ``dirty_at``), so an
  update that arrives during a push is pushed next time.
- A 429 pauses the push for the time HubSpot asks (``paused_until``); the task is queued again for then.
- A customer erased at their request is deleted from HubSpot (GDPR delete) by its HubSpot id: the OMS no
  longer has their email.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common import jobs

from ..exceptions import HubspotNotConfigured
from ..models import HubspotConnection, HubspotRecord
from . import sandbox
from .client import BATCH_SIZE, HubspotClient, HubspotError, RateLimited

logger = logging.getLogger(__name__)

# The default sales pipeline's stages (every HubSpot account has them).
DEFAULT_STAGES = {
    "received": "contractsent",
    "awaiting_stock": "contractsent",
    "allocated": "closedwon",
    "in_preparation": "closedwon",
    "partially_shipped": "closedwon",
    "shipped": "closedwon",
    "out_for_delivery": "closedwon",
    "ready_for_pickup": "closedwon",
    "delivered": "closedwon",
    "returned": "closedlost",
    "cancelled": "closedlost",
}
PUSH_LEASE = "hubspot-push"
MARKED_CODES = frozenset(
    {
        "customer.created",
        "customer.erased",
        "order.created",
        "order.status_changed",
        "order.cancelled",
        "order.lines_changed",
        "order.resourced",
    }
)


def connection_get() -> HubspotConnection | None:
    return HubspotConnection.objects.order_by("pk").first()


def connection_active() -> HubspotConnection | None:
    connection = connection_get()
    if connection is None or not connection.active or not (connection.token or connection.sandbox):
        return None
    return connection


def connection_save(*, connection: HubspotConnection | None, data: dict) -> HubspotConnection:
    """Create or change the connection (the token only when a new one is given)."""
    connection = connection or HubspotConnection()
    for field in ("name", "active", "sandbox", "pipeline", "burst_limit"):
        if field in data:
            setattr(connection, field, data[field])
    if data.get("token"):
        connection.token = data["token"]
    if data.get("token_clear"):
        connection.token = ""
    if "stages" in data:
        connection.stages = {k: v for k, v in data["stages"].items() if v}
    connection.save()
    return connection


def stage_for(connection: HubspotConnection, status: str) -> str:
    return (connection.stages or {}).get(status) or DEFAULT_STAGES.get(status, "contractsent")


# --- Marking what changed --------------------------------------------------------------------------------


def _mark(items: list[tuple[str, int]], *, erase: bool = False) -> None:
    if not items:
        return
    now = timezone.now()
    HubspotRecord.objects.bulk_create(
        [HubspotRecord(kind=kind, ref_id=ref, dirty_at=now, erase=erase, attempts=0) for kind, ref in items],
        update_conflicts=True,
        unique_fields=["kind", "ref_id"],
        update_fields=["dirty_at", "erase", "attempts"],
    )


def _queue_push(countdown: float = 2) -> None:
    from ..tasks import hubspot_push as push_task

    jobs.enqueue_on_commit(push_task, queue="notifications", countdown=countdown)


def hubspot_mark(*, event) -> None:
    """The consumer's handler: mark the contact and/or deal the event changed, and queue a push. Whether
    the connection is active comes from this process's memory (``integrations/configured.py``)."""
    from .. import configured

    if event.code not in MARKED_CODES or not configured.hubspot_active():
        return
    payload = event.payload or {}
    if event.code == "customer.erased":
        _mark([(HubspotRecord.Kind.CONTACT, payload["customer_id"])], erase=True)
    elif event.code == "customer.created":
        _mark([(HubspotRecord.Kind.CONTACT, payload["customer_id"])])
    elif event.order_id is not None:
        items = [(HubspotRecord.Kind.DEAL, event.order_id)]
        if event.code == "order.created":
            from orders.models import Order

            customer_id = (
                Order.objects.filter(pk=event.order_id).values_list("customer_id", flat=True).first()
            )
            if customer_id:
                items.append((HubspotRecord.Kind.CONTACT, customer_id))
        _mark(items)
    _queue_push()


def hubspot_resync(*, customer=None, since: datetime | None = None) -> dict:
    """Push again one customer (their contact and every order of theirs), or everything changed since a
    date (customers and orders). Returns how many contacts and deals are marked."""
    from customers.models import Customer
    from orders.models import Order

    if connection_active() is None:
        raise HubspotNotConfigured()
    if customer is not None:
        contacts = [customer.pk]
        deals = list(Order.objects.filter(customer=customer).values_list("pk", flat=True))
    else:
        since = since or timezone.now() - timedelta(days=1)
        contacts = list(Customer.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
        deals = list(Order.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    with transaction.atomic():
        for start in range(0, max(len(contacts), len(deals)), 1000):
            _mark([(HubspotRecord.Kind.CONTACT, pk) for pk in contacts[start : start + 1000]])
            _mark([(HubspotRecord.Kind.DEAL, pk) for pk in deals[start : start + 1000]])
        _queue_push(countdown=0)
    return {"contacts": len(contacts), "deals": len(deals)}


# --- Pushing --------------------------------------------------------------------------------------------


def client_for(connection: HubspotConnection, **kwargs) -> HubspotClient:
    transport = sandbox.transport() if connection.sandbox else kwargs.pop("transport", None)
    return HubspotClient(
        token=connection.token or "sandbox", burst_limit=connection.burst_limit, transport=transport, **kwargs
    )


def _clean(records: list[HubspotRecord], fields: dict[int, dict] | None = None) -> None:
    """Store what HubSpot answered, and mark pushed unless marked again since it was read."""
    now = timezone.now()
    for record in records:
        values = (fields or {}).get(record.pk, {})
        if values:
            HubspotRecord.objects.filter(pk=record.pk).update(**values)
        HubspotRecord.objects.filter(pk=record.pk, dirty_at=record.dirty_at).update(
            dirty_at=None, attempts=0, last_error="", pushed_at=now
        )


def _failed(records: list[HubspotRecord], error: str) -> None:
    for record in records:
        HubspotRecord.objects.filter(pk=record.pk).update(
            attempts=record.attempts + 1, last_error=error[:2000]
        )


def _dirty(kind: str, *, erase: bool = False, limit: int = BATCH_SIZE) -> list[HubspotRecord]:
    # Records that failed wait a little longer each time (1, 2, 4… minutes, at most an hour).
    now = timezone.now()
    rows = list(
        HubspotRecord.objects.filter(kind=kind, dirty_at__isnull=False, erase=erase).order_by(
            "dirty_at", "pk"
        )[: limit * 5]
    )
    ready = [
        r for r in rows if not r.attempts or r.dirty_at + timedelta(minutes=min(2**r.attempts, 60)) <= now
    ]
    return ready[:limit]


def _contact_properties(customer) -> dict:
    return {
        "email": customer.email,
        "firstname": customer.first_name,
        "lastname": customer.last_name,
        "phone": customer.phone,
        "company": customer.company,
    }


def _push_contacts(client: HubspotClient, records: list[HubspotRecord]) -> None:
    from customers.accounts import is_anonymised
    from customers.models import Customer

    customers = Customer.objects.in_bulk([r.ref_id for r in records])
    todo = [r for r in records if r.ref_id in customers and not is_anonymised(customers[r.ref_id])]
    gone = [r for r in records if r not in todo]
    if gone:
        HubspotRecord.objects.filter(pk__in=[r.pk for r in gone], erase=False).update(dirty_at=None)
    if not todo:
        return
    results = client.contacts_upsert(
        [
            {"email": customers[r.ref_id].email, "properties": _contact_properties(customers[r.ref_id])}
            for r in todo
        ]
    )
    ids = {str(res.get("properties", {}).get("email", "")).lower(): str(res["id"]) for res in results}
    _clean(
        todo, {r.pk: {"hubspot_id": ids.get(customers[r.ref_id].email.lower(), r.hubspot_id)} for r in todo}
    )


def _lines_signature(lines: list[dict]) -> str:
    return hashlib.sha256(json.dumps(lines, sort_keys=True, default=str).encode()).hexdigest()


def _push_deals(client: HubspotClient, connection: HubspotConnection, records: list[HubspotRecord]) -> None:
    from orders.models import Order, OrderLine

    orders = Order.objects.select_related("customer").in_bulk([r.ref_id for r in records])
    todo = [r for r in records if r.ref_id in orders]
    if not todo:
        return
    # The contacts first: a deal is associated with its customer's HubSpot contact.
    customer_ids = {orders[r.ref_id].customer_id for r in todo}
    known = dict(
        HubspotRecord.objects.filter(kind=HubspotRecord.Kind.CONTACT, ref_id__in=customer_ids)
        .exclude(hubspot_id="")
        .values_list("ref_id", "hubspot_id")
    )
    missing = customer_ids - set(known)
    if missing:
        _mark([(HubspotRecord.Kind.CONTACT, pk) for pk in missing])
        _push_contacts(client, list(HubspotRecord.objects.filter(kind="contact", ref_id__in=missing)))
        known |= dict(
            HubspotRecord.objects.filter(kind=HubspotRecord.Kind.CONTACT, ref_id__in=missing)
            .exclude(hubspot_id="")
            .values_list("ref_id", "hubspot_id")
        )
    client.deal_property_ensure()
    results = client.deals_upsert(
        [
            {
                "number": orders[r.ref_id].number,
                "properties": {
                    "dealname": f"Order {orders[r.ref_id].number}",
                    "amount": str(orders[r.ref_id].total_incl_vat),
                    "deal_currency_code": orders[r.ref_id].currency,
                    "pipeline": connection.pipeline,
                    "dealstage": stage_for(connection, orders[r.ref_id].status),
                    "closedate": orders[r.ref_id].created_at.isoformat(),
                },
            }
            for r in todo
        ]
    )
    deal_ids = {str(res.get("properties", {}).get("oms_order_number")): str(res["id"]) for res in results}
    pairs = [
        (deal_ids[orders[r.ref_id].number], known[orders[r.ref_id].customer_id])
        for r in todo
        if orders[r.ref_id].number in deal_ids and orders[r.ref_id].customer_id in known
    ]
    if pairs:
        client.deals_associate_contacts(pairs)
    # Line items: replaced when the order's lines changed since the last push.
    lines_by_order: dict[int, list[dict]] = {}
    for line in OrderLine.objects.filter(order_id__in=[r.ref_id for r in todo]).order_by(
        "order_id", "line_no"
    ):
        lines_by_order.setdefault(line.order_id, []).append(
            {"sku": line.sku, "name": line.name, "quantity": line.quantity, "price": str(line.unit_price)}
        )
    fields: dict[int, dict] = {}
    to_archive: list[str] = []
    to_create: list[tuple[HubspotRecord, dict]] = []
    for r in todo:
        deal_id = deal_ids.get(orders[r.ref_id].number, r.hubspot_id)
        lines = lines_by_order.get(r.ref_id, [])
        signature = _lines_signature(lines)
        fields[r.pk] = {"hubspot_id": deal_id}
        if signature != r.lines_signature and deal_id:
            to_archive += r.line_item_ids or []
            for line in lines:
                to_create.append(
                    (
                        r,
                        {
                            "deal": deal_id,
                            "properties": {
                                "name": line["name"],
                                "hs_sku": line["sku"],
                                "quantity": str(line["quantity"]),
                                "price": line["price"],
                            },
                        },
                    )
                )
            fields[r.pk] |= {"lines_signature": signature, "line_item_ids": []}
    for start in range(0, len(to_archive), BATCH_SIZE):
        client.line_items_archive(to_archive[start : start + BATCH_SIZE])
    for start in range(0, len(to_create), BATCH_SIZE):
        chunk = to_create[start : start + BATCH_SIZE]
        created = client.line_items_create([item for _r, item in chunk])
        for (r, _item), res in zip(chunk, created, strict=False):
            fields[r.pk]["line_item_ids"].append(str(res["id"]))
    _clean(todo, fields)


def _erase(client: HubspotClient, records: list[HubspotRecord]) -> None:
    for record in records:
        if record.hubspot_id:
            client.contact_gdpr_delete(record.hubspot_id)
        HubspotRecord.objects.filter(pk=record.pk).delete()


def hubspot_push(*, client: HubspotClient | None = None, max_batches: int = 50) -> dict:
    """Push what is marked, contacts then deals, in batches of 100, while holding the push lease. Returns
    counts, and ``retry_in`` (seconds) when HubSpot asked to wait."""
    connection = connection_active()
    result = {"contacts": 0, "deals": 0, "erased": 0, "requests": 0, "retry_in": None}
    if connection is None:
        return result
    now = timezone.now()
    if connection.paused_until and connection.paused_until > now:
        result["retry_in"] = (connection.paused_until - now).total_seconds()
        return result
    with jobs.lease(PUSH_LEASE, seconds=600) as held:
        if not held:
            return result
        own_client = client is None
        client = client or client_for(connection)
        errored = False
        try:
            for _batch in range(max_batches):
                erase = _dirty(HubspotRecord.Kind.CONTACT, erase=True)
                contacts = _dirty(HubspotRecord.Kind.CONTACT)
                deals = [] if contacts else _dirty(HubspotRecord.Kind.DEAL)
                if not (erase or contacts or deals):
                    break
                batch = erase or contacts or deals
                try:
                    if erase:
                        _erase(client, erase)
                        result["erased"] += len(erase)
                    elif contacts:
                        _push_contacts(client, contacts)
                        result["contacts"] += len(contacts)
                    else:
                        _push_deals(client, connection, deals)
                        result["deals"] += len(deals)
                except RateLimited as exc:
                    until = timezone.now() + timedelta(seconds=exc.retry_after)
                    HubspotConnection.objects.filter(pk=connection.pk).update(
                        paused_until=until, last_error=f"429 {exc.policy}: {exc}"
                    )
                    result["retry_in"] = exc.retry_after
                    break
                except HubspotError as exc:
                    logger.warning("HubSpot push failed: %s", exc)
                    _failed(batch, f"{exc.status or ''} {exc}".strip())
                    HubspotConnection.objects.filter(pk=connection.pk).update(last_error=str(exc)[:2000])
                    errored = True
                    break
            else:
                result["retry_in"] = 1.0  # more to do: go on in a new task
            result["requests"] = client.requests
            HubspotConnection.objects.filter(pk=connection.pk).update(last_push_at=timezone.now())
            if result["retry_in"] is None and not errored:
                HubspotConnection.objects.filter(pk=connection.pk).exclude(last_error="").filter(
                    Q(paused_until__isnull=True) | Q(paused_until__lte=timezone.now())
                ).update(last_error="")
        finally:
            if own_client:
                client.close()
    return result


def hubspot_backlog() -> dict:
    rows = HubspotRecord.objects.filter(dirty_at__isnull=False)
    return {
        "contacts": rows.filter(kind=HubspotRecord.Kind.CONTACT).count(),
        "deals": rows.filter(kind=HubspotRecord.Kind.DEAL).count(),
        "failing": rows.filter(attempts__gt=0).count(),
        "pushed": HubspotRecord.objects.exclude(hubspot_id="").count(),
    }
