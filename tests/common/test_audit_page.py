"""The audit log page (managers): newest first, filters by action, user and dates, keyset pages with a fixed
number of queries, labels in the reader's language; read-only in Django admin."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from common.models import AuditEntry
from oms.roles import CUSTOMER_SERVICE, MANAGER
from tests.oms.factories import UserFactory

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action
PARIS = ZoneInfo("Europe/Paris")
URL = "/settings/audit/"


def entry(action=Action.STAFF_SIGN_IN, label="ana", at=None, **fields) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        actor_kind="staff",
        actor_label=label,
        at=at or dt.datetime(2026, 11, 20, 9, 0, tzinfo=PARIS),
        **fields,
    )


@pytest.fixture
def manager_client(client):
    client.force_login(UserFactory(username="boss", role=MANAGER))
    AuditEntry.objects.all()
    return client


def shown_ids(response) -> list[int]:
    return [row.entry.pk for row in response.context["rows"]]


def test_managers_read_the_log_in_their_language(manager_client):
    entry(
        Action.SECRET_CHANGED,
        label="boss",
        ip="192.0.2.1",
        # a row written before the connectors left orders for their own app: found by its table
        target_type="orders.channelconnection",
        target_label="Boutique Shopify",
        changes={"access_token": {"before": "set", "after": "replaced"}},
    )
    entry(
        Action.SETTINGS_CHANGED,
        label="boss",
        target_type="shipping.carrierservice",
        target_label="Colissimo Domicile",
        details={
            "operation": "changed",
            "grid": "price",
            "grid_change": "band_deleted",
            "max_distance_km": 700,
        },
    )

    english = manager_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    french = manager_client.get(URL, HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    assert re.search(r'<a href="/settings/audit/"[^>]*aria-current="page"[^>]*>\s*Audit log\s*</a>', english)
    assert "Secret changed" in english and "192.0.2.1" in english and "Boutique Shopify" in english
    assert re.search(r"Access token</span>\s*set\s*<span aria-hidden=\"true\">→</span>", english)
    assert "replaced" in english
    assert (
        "price grid" in english and "band deleted" in english and "Distance band (km)</span> 700" in english
    )
    assert "Secret modifié" in french and "remplacé" in french and "grille tarifaire" in french


def test_other_roles_see_neither_the_page_nor_its_link(client):
    client.force_login(UserFactory(username="cs", role=CUSTOMER_SERVICE))
    assert client.get(URL).status_code == 403
    assert URL not in client.get(reverse("dashboard")).content.decode()


def test_filters_by_action_user_and_dates(manager_client):
    a = entry(Action.STAFF_SIGN_IN, "Ana", at=dt.datetime(2026, 11, 19, 23, 30, tzinfo=PARIS))
    b = entry(Action.STAFF_SIGN_IN_FAILED, "ana", at=dt.datetime(2026, 11, 20, 0, 30, tzinfo=PARIS))
    c = entry(Action.STAFF_SIGN_IN, "bob", at=dt.datetime(2026, 11, 21, 23, 59, tzinfo=PARIS))
    d = entry(Action.API_KEY_CREATED, "bob", at=dt.datetime(2026, 11, 22, 0, 1, tzinfo=PARIS))

    def ids(**query):
        response = manager_client.get(URL, query)
        assert response.status_code == 200
        return [pk for pk in shown_ids(response) if pk in (a.pk, b.pk, c.pk, d.pk)]

    assert ids() == [d.pk, c.pk, b.pk, a.pk]
    assert ids(action=Action.STAFF_SIGN_IN) == [c.pk, a.pk]
    assert ids(actor="ANA") == [b.pk, a.pk]
    assert ids(date_from="2026-11-20", date_to="2026-11-21") == [c.pk, b.pk]  # days in Paris time, inclusive
    assert ids(actor="bob", action=Action.API_KEY_CREATED) == [d.pk]


def test_bad_filters_are_reported_and_the_good_ones_still_apply(manager_client):
    kept = entry(Action.STAFF_SIGN_IN, "ana")
    entry(Action.STAFF_SIGN_IN, "bob")
    response = manager_client.get(
        URL, {"action": "made.up", "actor": "ana", "date_from": "2026-11-01", "date_to": "2026-10-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice. made.up is not one of the available choices." in html
    assert "The end date is before the start date." in html
    assert [pk for pk in shown_ids(response) if pk == kept.pk] == [kept.pk]
    assert all(row.entry.actor_label == "ana" for row in response.context["rows"])


def test_keyset_pages_with_a_fixed_number_of_queries(manager_client, django_assert_max_num_queries):
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(action=Action.STAFF_SIGN_IN, actor_kind="staff", actor_label=f"user{n}")
            for n in range(120)
        ]
    )
    newest_first = list(AuditEntry.objects.order_by("-id").values_list("pk", flat=True))

    with django_assert_max_num_queries(8):
        first = manager_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert shown_ids(first) == newest_first[:50]
    older = first.context["older"]
    assert f'href="?before={older}"' in first.content.decode()

    with django_assert_max_num_queries(8):
        second = manager_client.get(URL, {"before": older}, HTTP_ACCEPT_LANGUAGE="en")
    assert shown_ids(second) == newest_first[50:100]
    assert 'href="?">Newest</a>' in second.content.decode()
    third = manager_client.get(URL, {"before": second.context["older"]})
    assert shown_ids(third) == newest_first[100:]
    assert third.context["older"] is None

    filtered = manager_client.get(URL, {"action": Action.STAFF_SIGN_IN, "before": older})
    assert f'href="?action=staff.sign_in&amp;before={filtered.context["older"]}"' in filtered.content.decode()


def test_read_only_in_the_admin(client):
    item = entry(Action.STAFF_SIGN_IN, "ana")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:common_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:common_auditentry_add")).status_code == 403
    change = client.get(reverse("admin:common_auditentry_change", args=[item.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert (
        client.post(reverse("admin:common_auditentry_delete", args=[item.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=item.pk).exists()


def test_changes_read_in_the_models_order_created_without_arrows_deleted_struck(manager_client):
    entry(
        Action.SETTINGS_CHANGED,
        target_type="fulfillment.pickershift",
        target_label="lyon 2026-11-24",
        changes={"pickers": {"before": None, "after": 3}, "date": {"before": None, "after": "2026-11-24"}},
        details={"operation": "created"},
    )
    entry(
        Action.SETTINGS_CHANGED,
        target_type="shipping.shippingrule",
        target_label="Heavy",
        changes={"name": {"before": "Heavy", "after": None}},
        details={"operation": "deleted"},
    )

    response = manager_client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    deleted, created = response.context["rows"][:2]
    assert created.changes == [("Date", None, "2026-11-24"), ("Pickers", None, "3")]
    assert created.details == [("Operation", "created")]
    assert deleted.changes == [("Name", "Heavy", None)]
    assert "<del>Heavy</del>" in response.content.decode()
