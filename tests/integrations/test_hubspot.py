"""The HubSpot connector against respx fixtures of HubSpot's documented answers: contacts upserted by
email, orders as deals (upsert by order number, stage from the order status, amount, line items, the
contact associated), updates following the event log, 429s honoured, errors kept for a later try, and a
resync of one customer or of everything since a date."""

import json
from datetime import timedelta

import pytest
import respx
from django.db import transaction
from django.utils import timezone
from httpx import Response

from integrations.hubspot import client as client_module
from integrations.hubspot.client import HubspotClient, _Window
from integrations.hubspot.sync import connection_save, hubspot_push, hubspot_resync
from integrations.models import HubspotConnection, HubspotRecord
from orders.services.lifecycle import order_cancel

from .conftest import place
from .fixtures import hubspot as answers

API = "https://api.hubapi.com"


@pytest.fixture
def connection(db):
    return connection_save(
        connection=None, data={"active": True, "token": "pat-eu1-test", "burst_limit": 100}
    )


class Hubspot:
    def __init__(self, router):
        self.router = router
        self.contacts = router.post(f"{API}/crm/v3/objects/contacts/batch/upsert")
        self.contacts.side_effect = self._contacts
        self.property = router.post(f"{API}/crm/v3/properties/deals").respond(
            409, json=answers.PROPERTY_EXISTS
        )
        self.deals = router.post(f"{API}/crm/v3/objects/deals/batch/upsert")
        self.deals.side_effect = self._deals
        self.associate = router.post(
            f"{API}/crm/v4/associations/deals/contacts/batch/associate/default"
        ).respond(200, json=answers.ASSOCIATED)
        self.line_items = router.post(f"{API}/crm/v3/objects/line_items/batch/create")
        self.line_items.side_effect = self._line_items
        self.archive = router.post(f"{API}/crm/v3/objects/line_items/batch/archive").respond(204)
        self.gdpr = router.post(f"{API}/crm/v3/objects/contacts/gdpr-delete").respond(204)
        self.next_line_item = 5000

    def _contacts(self, request):
        inputs = json.loads(request.content)["inputs"]
        return Response(200, json=answers.upsert_contacts([(i["id"], f"c{i['id']}") for i in inputs]))

    def _deals(self, request):
        inputs = json.loads(request.content)["inputs"]
        return Response(200, json=answers.upsert_deals([(i["id"], f"d-{i['id']}") for i in inputs]))

    def _line_items(self, request):
        inputs = json.loads(request.content)["inputs"]
        ids = []
        for _ in inputs:
            self.next_line_item += 1
            ids.append(str(self.next_line_item))
        return Response(201, json=answers.created_line_items(ids))

    @staticmethod
    def body(route, index=-1) -> dict:
        return json.loads(route.calls[index].request.content)


@pytest.fixture
def hubspot():
    with respx.mock(assert_all_called=False) as router:
        yield Hubspot(router)


def push():
    return hubspot_push(client=HubspotClient(token="pat-eu1-test", sleep=lambda s: None))


def test_order_becomes_a_deal_with_its_contact_stage_amount_and_line_items(shop, connection, hubspot):
    # given: the event log's consumer marked the contact and the deal
    order = place(shop, quantity=2)
    assert set(HubspotRecord.objects.values_list("kind", "ref_id")) == {
        ("contact", order.customer_id),
        ("deal", order.pk),
    }
    # when
    result = push()
    # then: contacts first, upserted by email
    assert result["contacts"] == 1 and result["deals"] == 1
    contact_call = hubspot.body(hubspot.contacts)
    assert contact_call == {
        "inputs": [
            {
                "id": "ana@example.fr",
                "idProperty": "email",
                "properties": {
                    "email": "ana@example.fr",
                    "firstname": "Ana",
                    "lastname": "Roux",
                    "phone": "",
                    "company": "",
                },
            }
        ]
    }
    deal_call = hubspot.body(hubspot.deals)["inputs"][0]
    assert deal_call["id"] == order.number and deal_call["idProperty"] == "oms_order_number"
    properties = deal_call["properties"]
    assert properties["dealname"] == f"Order {order.number}"
    assert properties["amount"] == "39.80"
    assert properties["dealstage"] == "closedwon"  # allocated
    assert properties["pipeline"] == "default"
    assert hubspot.body(hubspot.associate) == {
        "inputs": [{"from": {"id": f"d-{order.number}"}, "to": {"id": "cana@example.fr"}}]
    }
    line = hubspot.body(hubspot.line_items)["inputs"][0]
    assert line["properties"] == {
        "name": "T-shirt M",
        "hs_sku": "TSHIRT-M",
        "quantity": "2",
        "price": "19.90",
    }
    assert line["associations"][0]["to"] == {"id": f"d-{order.number}"}
    assert line["associations"][0]["types"] == [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
    ]
    deal = HubspotRecord.objects.get(kind="deal")
    assert deal.hubspot_id == f"d-{order.number}" and deal.line_item_ids == ["5001"] and deal.dirty_at is None
    assert HubspotRecord.objects.get(kind="contact").hubspot_id == "cana@example.fr"


def test_a_status_change_updates_the_deals_stage_without_touching_line_items(shop, connection, hubspot):
    order = place(shop)
    push()
    # when: the order is cancelled (event log → consumer marks the deal)
    with transaction.atomic():
        order_cancel(order=order, reason="changed my mind")
    assert HubspotRecord.objects.get(kind="deal").dirty_at is not None
    push()
    # then
    assert hubspot.body(hubspot.deals)["inputs"][0]["properties"]["dealstage"] == "closedlost"
    assert hubspot.deals.call_count == 2
    assert hubspot.line_items.call_count == 1  # lines unchanged: not sent again
    assert hubspot.archive.call_count == 0


def test_stage_mapping_is_the_managers(shop, connection, hubspot):
    connection_save(connection=connection, data={"stages": {"allocated": "appointmentscheduled"}})
    place(shop)
    push()
    assert hubspot.body(hubspot.deals)["inputs"][0]["properties"]["dealstage"] == "appointmentscheduled"


def test_batches_hold_at_most_100_inputs(shop, connection, hubspot):
    from customers.models import Customer

    customers = Customer.objects.bulk_create([Customer(email=f"c{i}@example.fr") for i in range(150)])
    HubspotRecord.objects.bulk_create(
        [HubspotRecord(kind="contact", ref_id=c.pk, dirty_at=timezone.now()) for c in customers]
    )
    result = push()
    assert result["contacts"] == 150
    assert [len(hubspot.body(hubspot.contacts, i)["inputs"]) for i in range(2)] == [100, 50]


def test_a_429_pauses_the_push_for_the_time_hubspot_asks(shop, connection, hubspot):
    place(shop)
    hubspot.contacts.side_effect = [
        Response(429, json=answers.TEN_SECONDLY, headers=answers.TEN_SECONDLY_HEADERS),
    ]
    before = timezone.now()
    result = push()
    assert result["retry_in"] == 10.0
    connection.refresh_from_db()
    assert before + timedelta(seconds=9) < connection.paused_until < before + timedelta(seconds=12)
    assert "TEN_SECONDLY_ROLLING" in connection.last_error
    assert HubspotRecord.objects.filter(dirty_at__isnull=False).count() == 2  # nothing lost
    # while paused, nothing is sent
    assert push()["retry_in"] > 0
    assert hubspot.contacts.call_count == 1


def test_a_daily_limit_waits_an_hour(shop, connection, hubspot):
    place(shop)
    hubspot.contacts.side_effect = [Response(429, json=answers.DAILY)]
    assert push()["retry_in"] == 3600.0


def test_retry_after_header_is_honoured():
    response = Response(429, json=answers.TEN_SECONDLY, headers={"Retry-After": "3"})
    error = client_module._error(response)
    assert isinstance(error, client_module.RateLimited) and error.retry_after == 3.0


def test_the_client_stays_under_the_burst_limit():
    slept = []
    now = [0.0]
    window = _Window(
        3, sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)), clock=lambda: now[0]
    )
    for _ in range(4):
        window.wait()
        now[0] += 1
    assert slept == [7.0]  # the 4th request of 10 seconds waits until the 1st is 10 seconds old


def test_a_refused_batch_keeps_the_records_for_a_later_try(shop, connection, hubspot):
    place(shop)
    hubspot.contacts.side_effect = [Response(401, json=answers.UNAUTHORIZED)]
    push()
    record = HubspotRecord.objects.get(kind="contact")
    assert record.dirty_at is not None and record.attempts == 1
    assert "Authentication credentials not found" in record.last_error
    connection.refresh_from_db()
    assert "Authentication credentials" in connection.last_error
    # a later push (after the backoff) succeeds and clears the error
    hubspot.contacts.side_effect = hubspot._contacts
    HubspotRecord.objects.update(dirty_at=timezone.now() - timedelta(minutes=5))
    push()
    assert HubspotRecord.objects.filter(dirty_at__isnull=False).count() == 0
    connection.refresh_from_db()
    assert connection.last_error == ""


def test_an_erased_customer_is_deleted_from_hubspot(shop, connection, hubspot):
    from customers.accounts import customer_anonymise

    order = place(shop)
    push()
    customer_anonymise(customer=order.customer)
    push()
    assert hubspot.body(hubspot.gdpr) == {"objectId": "cana@example.fr"}
    assert not HubspotRecord.objects.filter(kind="contact").exists()
    # the anonymised address never reached HubSpot
    assert all("anonymised" not in c.request.content.decode() for c in hubspot.contacts.calls)


def test_resync_one_customer_or_everything_since_a_date(shop, connection, hubspot):
    first = place(shop, external_id="A", email="a@example.fr")
    place(shop, external_id="B", email="b@example.fr")
    push()
    assert HubspotRecord.objects.filter(dirty_at__isnull=False).count() == 0
    # one customer: their contact and every order of theirs
    assert hubspot_resync(customer=first.customer) == {"contacts": 1, "deals": 1}
    assert set(HubspotRecord.objects.filter(dirty_at__isnull=False).values_list("kind", "ref_id")) == {
        ("contact", first.customer_id),
        ("deal", first.pk),
    }
    push()
    # everything changed since yesterday
    assert hubspot_resync(since=timezone.now() - timedelta(days=1)) == {"contacts": 2, "deals": 2}
    # nothing changed since tomorrow
    assert hubspot_resync(since=timezone.now() + timedelta(days=1)) == {"contacts": 0, "deals": 0}


def test_nothing_is_marked_without_a_connection(shop, hubspot):
    place(shop)
    assert HubspotRecord.objects.count() == 0
    assert HubspotConnection.objects.count() == 0


def test_sandbox_answers_offline(shop, db):
    connection_save(connection=None, data={"active": True, "sandbox": True})
    order = place(shop)
    with respx.mock(assert_all_called=False) as router:  # nothing may leave the server
        result = hubspot_push()
        assert not router.calls
    assert result["contacts"] == 1 and result["deals"] == 1
    assert HubspotRecord.objects.get(kind="deal", ref_id=order.pk).hubspot_id
