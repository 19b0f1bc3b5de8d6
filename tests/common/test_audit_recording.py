"""The audit log records every kind of security-relevant action with who, when, from where, the object and
before/after (never a secret's value), and is append-only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory, override_settings
from django.urls import reverse

from common.audit import audit_record, audit_request
from common.models import AuditEntry
from customers import accounts
from fulfillment.models import PickerShift
from fulfillment.services import shift_delete, shift_save, wave_settings_save
from inventory.models import StaffProfile
from inventory.services import location_save
from invoicing.models import ChannelBilling
from invoicing.services.entities import channel_billing_save, legal_entity_save
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE_STAFF
from orders.models import ApiKey
from orders.services.api_keys import api_key_create, api_key_revoke
from shipping import services as network
from shipping.models import Carrier, ShippingRule
from shipping.rule_services import RuleInput, rule_delete, rule_move, rule_save
from tests.inventory.factories import LocationFactory
from tests.invoicing.factories import LegalEntityFactory
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, CustomerFactory
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory, with_grids

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
BOSS = ("boss", "203.0.113.7")
NEW_PASSWORD = "a-much-better-one-77"


def entries(action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def only(action) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, [(e.action, e.target_label, e.changes, e.details) for e in found]
    return found[0]


@pytest.fixture
def boss():
    return UserFactory(username="boss", role=MANAGER)


@pytest.fixture
def as_boss(boss):
    """Service calls made as if from a request of ``boss`` at 203.0.113.7."""
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7")
    request.user = boss
    with audit_request(request):
        yield boss


# --- Sign-ins ---------------------------------------------------------------------------------------------


def test_staff_sign_in_failure_and_sign_out(client):
    UserFactory(username="ana", role=WAREHOUSE_STAFF)
    login = reverse("login")

    client.post(login, {"username": "ana", "password": "wrong"}, REMOTE_ADDR="198.51.100.4")
    client.post(login, {"username": "nobody", "password": "x"}, REMOTE_ADDR="198.51.100.4")
    assert client.post(login, {"username": "ana", "password": "s3cret-pass!"}).status_code == 302
    client.post(reverse("logout"))

    failed = entries(Action.STAFF_SIGN_IN_FAILED)
    ana = get_user_model().objects.get(username="ana")
    assert [(e.actor_kind, e.actor_id, e.actor_label, e.ip, e.details) for e in failed] == [
        ("staff", ana.pk, "ana", "198.51.100.4", {"known_user": True}),
        ("staff", None, "nobody", "198.51.100.4", {"known_user": False}),
    ]
    signed_in = only(Action.STAFF_SIGN_IN)
    assert (signed_in.actor_id, signed_in.actor_label, signed_in.ip, signed_in.target_type) == (
        ana.pk,
        "ana",
        "127.0.0.1",
        "auth.user",
    )
    assert only(Action.STAFF_SIGN_OUT).actor_label == "ana"
    assert not any("wrong" in str(e.details) or "s3cret" in str(e.details) for e in AuditEntry.objects.all())


@override_settings(RATELIMIT_IP_META_KEY="HTTP_X_FORWARDED_FOR")
def test_behind_a_proxy_the_client_address_is_the_one_the_proxy_gives(client):
    client.post(
        reverse("login"),
        {"username": "ghost", "password": "x"},
        HTTP_X_FORWARDED_FOR="192.0.2.55, 10.0.0.1",
    )
    assert only(Action.STAFF_SIGN_IN_FAILED).ip == "192.0.2.55"


def test_customer_sign_in_failure_link_and_sign_out(client):
    ana = CustomerFactory(email="ana@example.fr")
    accounts.account_set_password(customer=ana, password="correct-horse-battery-staple-42")
    signin = reverse("portal:account_signin")

    client.post(signin, {"action": "password", "email": "ana@example.fr", "password": "nope-nope-nope"}, **EN)
    client.post(
        signin,
        {"action": "password", "email": "ana@example.fr", "password": "correct-horse-battery-staple-42"},
    )
    client.post(reverse("portal:account_signout"))
    token = accounts.account_link_make(customer=ana)
    client.post(reverse("portal:account_link", args=[token]), {"password1": "", "password2": ""})
    client.post(reverse("portal:account_link", args=["not-a-token"]))

    assert [
        (e.action, e.actor_kind, e.actor_id, e.actor_label, e.ip, e.details)
        for e in AuditEntry.objects.filter(action__startswith="customer.").order_by("id")
    ] == [
        (Action.CUSTOMER_SIGN_IN_FAILED, "customer", None, "ana@example.fr", "127.0.0.1",
         {"reason": "wrong_credentials"}),
        (Action.CUSTOMER_SIGN_IN, "customer", ana.pk, "ana@example.fr", "127.0.0.1", {"method": "password"}),
        (Action.CUSTOMER_SIGN_OUT, "customer", ana.pk, "ana@example.fr", "127.0.0.1", {}),
        (Action.CUSTOMER_SIGN_IN, "customer", ana.pk, "ana@example.fr", "127.0.0.1", {"method": "link"}),
        (Action.CUSTOMER_SIGN_IN_FAILED, "customer", None, "", "127.0.0.1",
         {"method": "link", "reason": "invalid"}),
    ]  # fmt: skip


def test_a_staff_session_in_the_same_browser_is_not_the_customer(client):
    client.force_login(UserFactory(username="boss", role=MANAGER))
    client.post(
        reverse("portal:account_signin"), {"action": "password", "email": "who@example.fr", "password": "x"}
    )
    failed = only(Action.CUSTOMER_SIGN_IN_FAILED)
    assert (failed.actor_kind, failed.actor_id, failed.actor_label) == ("customer", None, "who@example.fr")


# --- API keys ---------------------------------------------------------------------------------------------


def test_api_keys_created_and_revoked_on_the_channel_page(client, boss):
    ChannelFactory(code="web", name="Web")
    client.force_login(boss)

    page = client.post(
        reverse("orders:api_key_create", kwargs={"code": "web"}),
        {"key-name": "shop", "key-scopes": ["orders", "stock"]},
        **EN,
    )
    raw = page.context["raw_key"]
    key = ApiKey.objects.get()
    client.post(reverse("orders:api_key_revoke", kwargs={"code": "web", "pk": key.pk}))
    client.post(reverse("orders:api_key_revoke", kwargs={"code": "web", "pk": key.pk}))  # no second entry

    created, revoked = only(Action.API_KEY_CREATED), only(Action.API_KEY_REVOKED)
    expected = {"channel": "web", "name": "shop", "prefix": key.prefix, "scopes": ["orders", "stock"]}
    for entry in (created, revoked):
        assert (entry.actor_label, entry.ip, entry.target_type, entry.target_id) == (
            "boss",
            "127.0.0.1",
            "orders.apikey",
            str(key.pk),
        )
        assert entry.details == expected
    assert raw not in str(AuditEntry.objects.values_list("details", "changes", "target_label"))


def test_api_keys_revoked_in_the_admin_and_created_by_the_command():
    channel = ChannelFactory(code="web")
    key, _raw = api_key_create(channel=channel, scopes=["all"])  # management command: no request
    assert only(Action.API_KEY_CREATED).actor_kind == "system"
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    request = RequestFactory().post("/admin/", REMOTE_ADDR="192.0.2.9")
    request.user = root
    with audit_request(request):
        api_key_revoke(key=key)
    revoked = only(Action.API_KEY_REVOKED)
    assert (revoked.actor_label, revoked.ip) == ("root", "192.0.2.9")


# --- Roles, scopes and staff accounts ---------------------------------------------------------------------


def test_roles_changed_in_the_admin_with_before_and_after(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    ana = UserFactory(username="ana", role=WAREHOUSE_STAFF)
    first = AuditEntry.objects.order_by("-id").first().id
    client.force_login(root)

    response = client.post(
        reverse("admin:auth_user_change", args=[ana.pk]),
        {
            "username": "ana",
            "first_name": "",
            "last_name": "",
            "email": "ana@example.fr",
            "is_active": "on",
            "groups": [Group.objects.get(name=CUSTOMER_SERVICE).pk, Group.objects.get(name=MANAGER).pk],
            "user_permissions": [],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "last_login_0": "",
            "last_login_1": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    new = AuditEntry.objects.filter(id__gt=first, action=Action.ROLE_CHANGED).order_by("id")
    # Django sets the roles by removing then adding: two entries, each with the set before and after.
    assert [(e.actor_label, e.ip, e.target_label, e.changes) for e in new] == [
        ("root", "127.0.0.1", "ana", {"groups": {"before": [WAREHOUSE_STAFF], "after": []}}),
        ("root", "127.0.0.1", "ana", {"groups": {"before": [], "after": [CUSTOMER_SERVICE, MANAGER]}}),
    ]


def test_roles_changed_from_either_side_and_role_permissions(as_boss):
    ana = UserFactory(username="ana")
    group = Group.objects.get(name=CUSTOMER_SERVICE)
    first = AuditEntry.objects.order_by("-id").first().id

    group.user_set.add(ana)
    ana.groups.remove(group)
    perm = Permission.objects.get(codename="manage_settings")
    group.permissions.add(perm)

    new = list(AuditEntry.objects.filter(id__gt=first).order_by("id"))
    assert [(e.action, (e.actor_label, e.ip), e.target_label, e.changes) for e in new] == [
        (Action.ROLE_CHANGED, BOSS, "ana", {"groups": {"before": [], "after": [CUSTOMER_SERVICE]}}),
        (Action.ROLE_CHANGED, BOSS, "ana", {"groups": {"before": [CUSTOMER_SERVICE], "after": []}}),
        (Action.ROLE_PERMISSIONS_CHANGED, BOSS, CUSTOMER_SERVICE,
         {"permissions": {"added": ["oms.manage_settings"], "removed": []}}),
    ]  # fmt: skip


def test_scopes_changed_in_the_admin(client):
    lyon, lille = LocationFactory(code="lyon"), LocationFactory(code="lille")
    ana = UserFactory(username="ana", role=WAREHOUSE_STAFF, locations=[lyon])
    profile = StaffProfile.objects.get(user=ana)
    first = AuditEntry.objects.order_by("-id").first().id
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:inventory_staffprofile_change", args=[profile.pk]),
        {"user": ana.pk, "locations": [lille.pk], "all_locations": "on"},
    )

    assert response.status_code == 302
    new = AuditEntry.objects.filter(id__gt=first, action=Action.SCOPE_CHANGED).order_by("id")
    assert [(e.actor_label, e.target_type, e.target_label, e.changes) for e in new] == [
        ("root", "inventory.staffprofile", "ana", {"all_locations": {"before": False, "after": True}}),
        ("root", "inventory.staffprofile", "ana", {"locations": {"before": [str(lyon)], "after": []}}),
        ("root", "inventory.staffprofile", "ana", {"locations": {"before": [], "after": [str(lille)]}}),
    ]  # fmt: skip


def test_staff_accounts_created_promoted_and_given_a_new_password(client, as_boss):
    User = get_user_model()
    ana = User.objects.create_user(username="ana", password="first-pass-123")
    created = AuditEntry.objects.get(action=Action.STAFF_ACCOUNT_CHANGED, target_label="ana")
    assert (created.actor_label, created.target_label, created.details) == (
        "boss",
        "ana",
        {"operation": "created", "password": "set"},
    )
    hash_before = ana.password

    ana.is_superuser = True
    ana.save()
    ana.set_password("second-pass-456")
    ana.save()
    User.objects.get(pk=ana.pk).save(update_fields=["last_login"])  # a sign-in stamp: nothing

    changed = list(
        AuditEntry.objects.filter(action=Action.STAFF_ACCOUNT_CHANGED, target_label="ana").order_by("id")
    )[1:]
    assert [e.changes for e in changed] == [
        {"is_superuser": {"before": False, "after": True}},
        {"password": {"before": "set", "after": "replaced"}},
    ]
    stored = str(list(AuditEntry.objects.values_list("changes", "details")))
    assert hash_before not in stored and ana.password not in stored and "second-pass" not in stored


def test_a_password_changed_on_the_page_is_recorded(client):
    UserFactory(username="ana", role=WAREHOUSE_STAFF)
    client.post(reverse("login"), {"username": "ana", "password": "s3cret-pass!"})
    client.post(
        reverse("password_change"),
        {"old_password": "s3cret-pass!", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    last = entries(Action.STAFF_ACCOUNT_CHANGED)[-1]
    assert (last.actor_label, last.target_label, last.changes) == (
        "ana",
        "ana",
        {"password": {"before": "set", "after": "replaced"}},
    )


# --- Settings ---------------------------------------------------------------------------------------------


def test_channel_settings_page_records_before_and_after_with_locations(client, boss):
    lyon, _paris = LocationFactory(code="lyon"), LocationFactory(code="paris", kind="store")
    channel = ChannelFactory(code="web", name="Web", locations=[lyon])
    client.force_login(boss)

    response = client.post(
        reverse("orders:channel_detail", kwargs={"code": "web"}),
        {
            "name": "Web shop",
            "kind": channel.kind,
            "safety_buffer": "2",
            "sourcing_strategy": "nearest",
            "active": "on",
            "locations-TOTAL_FORMS": "2",
            "locations-INITIAL_FORMS": "0",
            "locations-MIN_NUM_FORMS": "0",
            "locations-MAX_NUM_FORMS": "1000",
            "locations-0-location": "lyon",
            "locations-0-priority": "1",
            "locations-1-location": "paris",
            "locations-1-priority": "2",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    entry = only(Action.SETTINGS_CHANGED)
    assert (entry.actor_label, entry.ip, entry.target_type, entry.target_label) == (
        "boss",
        "127.0.0.1",
        "orders.channel",
        "Web shop",
    )
    assert entry.changes == {
        "name": {"before": "Web", "after": "Web shop"},
        "safety_buffer": {"before": 0, "after": 2},
        "sourcing_strategy": {"before": "cost", "after": "nearest"},
    }
    assert entry.details == {
        "operation": "changed",
        "locations": {"before": ["lyon (10)"], "after": ["lyon (1)", "paris (2)"]},
    }


def test_connection_settings_are_recorded_apart_from_the_secrets(client, boss):
    channel = ChannelFactory(code="shop", name="Shop", kind="shopify")
    client.force_login(boss)
    url = reverse("channels:connector", kwargs={"code": "shop"})
    data = {"base_url": "demo.myshopify.com", "api_version": "2026-01", "delivery_modes": "* = home"}
    client.post(url, {**data, "access_token": "shpat_value"})
    client.post(url, {**data, "push_stock": "on", "remote_location_id": "gid://shopify/Location/1"})

    settings_entries = entries(Action.SETTINGS_CHANGED)
    assert [(e.target_label, e.changes) for e in settings_entries] == [
        (str(channel), {"base_url": {"before": "", "after": "demo.myshopify.com"},
                        "delivery_modes": {"before": {}, "after": {"*": "home"}}}),
        (str(channel), {"push_stock": {"before": False, "after": True},
                        "remote_location_id": {"before": "", "after": "gid://shopify/Location/1"}}),
    ]  # fmt: skip
    assert only(Action.SECRET_CHANGED).changes == {"access_token": {"before": "not set", "after": "set"}}


def test_carrier_network_settings(as_boss):
    carrier = CarrierFactory(code="colissimo", name="Colissimo")
    service = with_grids(CarrierServiceFactory(carrier=carrier, name="Domicile"))

    network.carrier_save(carrier=carrier, data={"name": "Colissimo Pro"})
    network.service_save(service=service, data={"cutoff_time": dt.time(15, 30), "delivery_weekdays": "12345"})
    network.rate_band_save(
        service=service, max_weight_g=1000, prices={300: Decimal("4.40"), 700: Decimal("4.90")}
    )
    network.rate_band_save(
        service=service, max_weight_g=1000, prices={300: Decimal("4.45"), 700: Decimal("4.95")}, replace=1000
    )
    network.rate_band_delete(service=service, max_distance_km=700)
    network.rate_grid_replace(service=service, distances=[500], rows=[(1000, ["5.00"])])
    network.transit_band_save(service=service, max_distance_km=900, transit_days=3)
    network.transit_band_delete(service=service, max_distance_km=900)

    found = entries(Action.SETTINGS_CHANGED)
    assert all((e.actor_label, e.ip) == BOSS for e in found)
    assert [(e.target_type, e.changes) for e in found[:2]] == [
        ("shipping.carrier", {"name": {"before": "Colissimo", "after": "Colissimo Pro"}}),
        ("shipping.carrierservice", {"cutoff_time": {"before": "16:00:00", "after": "15:30:00"},
                                     "delivery_weekdays": {"before": "123456", "after": "12345"}}),
    ]  # fmt: skip
    grid = {"operation": "changed", "grid": "price"}
    transit = {"operation": "changed", "grid": "transit"}
    assert all((e.target_type, e.changes) == ("shipping.carrierservice", {}) for e in found[2:])
    assert [e.details for e in found[2:]] == [
        {**grid, "grid_change": "band_added", "max_weight_g": 1000, "prices": {"300": "4.40", "700": "4.90"}},
        {**grid, "grid_change": "band_changed", "max_weight_g": {"before": 1000, "after": 1000},
         "prices": {"before": {"300": "4.40", "700": "4.90"}, "after": {"300": "4.45", "700": "4.95"}}},
        {**grid, "grid_change": "band_deleted", "max_distance_km": 700},
        {**grid, "grid_change": "replaced", "distances_km": [500], "weights_g": [1000], "cells": 1},
        {**transit, "grid_change": "band_added", "max_distance_km": 900, "days": 3},
        {**transit, "grid_change": "band_deleted", "max_distance_km": 900},
    ]  # fmt: skip


def test_a_refused_settings_change_records_nothing(as_boss):
    carrier = CarrierFactory(code="colissimo", name="Colissimo")
    service = CarrierServiceFactory(carrier=carrier)
    with pytest.raises(network.InvalidService):
        network.service_save(service=service, data={"delivery_weekdays": "89"})
    with pytest.raises(network.InvalidGrid):
        network.rate_grid_replace(service=service, distances=[300], rows=[(1000, ["-1"])])
    assert not AuditEntry.objects.filter(action=Action.SETTINGS_CHANGED).exists()


def test_shipping_rules(as_boss):
    service = CarrierServiceFactory(
        carrier=CarrierFactory(code="colissimo", name="Colissimo"), name="Domicile"
    )
    a = rule_save(data=RuleInput(name="A", service=service))
    b = rule_save(data=RuleInput(name="B", service=service, country="fr"))
    rule_save(rule=b, data=RuleInput(name="B", service=service, country="BE", active=False))
    rule_move(rule=b, offset=-1)
    rule_delete(rule=ShippingRule.objects.get(pk=a.pk))

    found = entries(Action.SETTINGS_CHANGED)
    assert [(e.target_label, e.details["operation"]) for e in found] == [
        ("A", "created"),
        ("B", "created"),
        ("B", "changed"),
        ("", "changed"),
        ("A", "deleted"),
    ]
    assert found[0].changes["service"] == {"before": None, "after": str(service)}
    assert found[2].changes == {
        "country": {"before": "FR", "after": "BE"},
        "active": {"before": True, "after": False},
    }
    assert found[3].changes == {"order": {"before": ["A", "B"], "after": ["B", "A"]}}
    assert found[4].changes["name"] == {"before": "A", "after": None}


def test_invoicing_settings(as_boss):
    channel = ChannelFactory(code="web", name="Web")
    entity = LegalEntityFactory(name="Boutique SAS")
    entity.payment_terms_days = 45
    legal_entity_save(entity=entity)
    channel_billing_save(channel=channel, legal_entity=entity, issue_policy="delivered")
    channel_billing_save(channel=channel, legal_entity=entity, issue_policy="placed")

    found = entries(Action.SETTINGS_CHANGED)
    assert [(e.target_type, e.details["operation"]) for e in found] == [
        ("invoicing.legalentity", "changed"),
        ("invoicing.channelbilling", "created"),
        ("invoicing.channelbilling", "changed"),
    ]
    assert found[0].changes == {"payment_terms_days": {"before": 30, "after": 45}}
    assert found[2].changes == {"issue_policy": {"before": "delivered", "after": "placed"}}
    assert ChannelBilling.objects.get().issue_policy == "placed"


def test_wave_settings_and_planning(as_boss):
    lyon = LocationFactory(code="lyon")
    wave_settings_save(location=lyon, max_orders=20, auto_release=True, minutes=30)
    wave_settings_save(location=lyon, max_orders=25, auto_release=True, minutes=30)
    shift = shift_save(
        shift=PickerShift(
            location=lyon, date=dt.date(2026, 11, 24), start=dt.time(7), end=dt.time(12), pickers=2
        )
    )
    shift.pickers = 3
    shift_save(shift=shift)
    shift_delete(shift=PickerShift.objects.get(pk=shift.pk))

    found = entries(Action.SETTINGS_CHANGED)
    assert [(e.target_type, e.details["operation"]) for e in found] == [
        ("fulfillment.wavesettings", "created"),
        ("fulfillment.wavesettings", "changed"),
        ("fulfillment.pickershift", "created"),
        ("fulfillment.pickershift", "changed"),
        ("fulfillment.pickershift", "deleted"),
    ]
    assert found[1].changes == {"max_orders": {"before": 20, "after": 25}}
    assert found[3].changes == {
        "pickers": {"before": 2, "after": 3},
        "capacity_lines": {"before": 300, "after": 450},
    }
    assert "lines_booked" not in found[2].changes and "lines_booked" not in found[4].changes


def test_location_settings(as_boss):
    lyon = LocationFactory(code="lyon", name="Entrepôt Lyon")
    location_save(location=lyon, data={"name": "Entrepôt Lyon Sud"})
    assert only(Action.SETTINGS_CHANGED).changes == {
        "name": {"before": "Entrepôt Lyon", "after": "Entrepôt Lyon Sud"}
    }


def test_settings_changed_and_deleted_in_the_admin(client):
    carrier = CarrierFactory(code="dhl", name="DHL")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    change = reverse("admin:shipping_carrier_change", args=[carrier.pk])
    data = {
        "code": "dhl",
        "name": "DHL Express",
        "adapter": carrier.adapter,
        "active": "on",
        "services-TOTAL_FORMS": "0",
        "services-INITIAL_FORMS": "0",
        "services-MIN_NUM_FORMS": "0",
        "services-MAX_NUM_FORMS": "1000",
    }
    response = client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.post(reverse("admin:shipping_carrier_delete", args=[carrier.pk]), {"post": "yes"})

    changed, deleted = entries(Action.SETTINGS_CHANGED)
    assert (changed.actor_label, changed.changes, changed.details) == (
        "root",
        {"name": {"before": "DHL", "after": "DHL Express"}},
        {"operation": "changed", "via": "admin"},
    )
    assert (deleted.target_label, deleted.details) == (
        "DHL Express",
        {"operation": "deleted", "via": "admin"},
    )
    assert not Carrier.objects.exists()


# --- Append-only ------------------------------------------------------------------------------------------


def test_entries_are_append_only():
    entry = audit_record(action=Action.SETTINGS_CHANGED, target_label="x")
    entry.target_label = "y"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    with pytest.raises(ValueError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).update(target_label="y")
    with pytest.raises(ValueError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).target_label == "x"


@pytest.mark.postgres
def test_the_database_refuses_changes_and_deletions():
    entry = audit_record(action=Action.SETTINGS_CHANGED, target_label="x")
    for sql in (
        "UPDATE common_auditentry SET target_label = 'y' WHERE id = %s",
        "DELETE FROM common_auditentry WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="the audit log is append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).target_label == "x"
