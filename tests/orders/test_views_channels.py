"""Channel settings and API keys: a key is shown once, stored hashed, and refused by the API once revoked."""

import hashlib

import pytest
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE, MANAGER
from orders.models import ApiKey, Channel, ChannelLocation
from orders.services.api_keys import api_key_create
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory


@pytest.fixture
def channels(db, warehouse, other_warehouse, store):
    web = ChannelFactory(code="web", name="Web", locations=[other_warehouse, warehouse])
    shop = ChannelFactory(code="shopify", name="Shopify", kind=Channel.Kind.SHOPIFY, locations=[store])
    api_key_create(channel=web, scopes=["all"], name="live")
    revoked, _raw = api_key_create(channel=web, scopes=["orders"], name="old")
    revoked.revoked_at = revoked.created_at
    revoked.save(update_fields=["revoked_at"])
    return {"web": web, "shopify": shop}


@pytest.fixture
def manager_client(client, role_users):
    client.force_login(role_users[MANAGER])
    return client


def detail(code="web"):
    return reverse("orders:channel_detail", kwargs={"code": code})


def test_channel_list_shows_locations_in_priority_order_and_active_keys(
    manager_client, channels, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = manager_client.get(reverse("orders:channel_list"))
    assert response.status_code == 200
    rows = {
        c.code: ([cl.location.code for cl in c.channel_locations.all()], c.active_keys)
        for c in response.context["channels"]
    }
    assert rows == {"shopify": (["paris"], 0), "web": (["lille", "lyon"], 1)}


def _post_data(**overrides):
    data = {
        "name": "Boutique web",
        "kind": "web",
        "safety_buffer": "2",
        "sourcing_strategy": "priority",
        "active": "on",
        "locations-TOTAL_FORMS": "3",
        "locations-INITIAL_FORMS": "0",
        "locations-MIN_NUM_FORMS": "0",
        "locations-MAX_NUM_FORMS": "50",
        "locations-0-location": "lyon",
        "locations-0-priority": "1",
        "locations-1-location": "paris",
        "locations-1-priority": "5",
        "locations-2-location": "",
        "locations-2-priority": "",
    }
    data.update(overrides)
    return data


def test_channel_detail_form_lists_its_locations(manager_client, channels):
    response = manager_client.get(detail())
    assert response.status_code == 200
    initial = [(row["location"].code, row["priority"]) for row in response.context["formset"].initial]
    assert initial == [("lille", 10), ("lyon", 20)]
    assert [k.name for k in response.context["keys"]] == ["live", "old"]  # active keys first


def test_saving_a_channel_sets_its_fields_and_locations(manager_client, channels):
    keep = ChannelLocation.objects.get(channel=channels["web"], location__code="lyon")

    response = manager_client.post(detail(), _post_data())

    assert response.status_code == 302
    assert response["Location"] == detail()
    web = Channel.objects.get(code="web")
    assert (web.name, web.kind, web.safety_buffer, web.sourcing_strategy, web.active) == (
        "Boutique web",
        "web",
        2,
        "priority",
        True,
    )
    rows = list(
        ChannelLocation.objects.filter(channel=web)
        .order_by("priority")
        .values_list("location__code", "priority")
    )
    assert rows == [("lyon", 1), ("paris", 5)]  # lille removed
    assert ChannelLocation.objects.get(channel=web, location__code="lyon").pk == keep.pk


def test_rows_without_priority_keep_their_order(manager_client, channels):
    data = _post_data(**{"locations-0-priority": "", "locations-1-priority": ""})
    assert manager_client.post(detail(), data).status_code == 302
    rows = list(
        ChannelLocation.objects.filter(channel__code="web")
        .order_by("priority")
        .values_list("location__code", "priority")
    )
    assert rows == [("lyon", 10), ("paris", 20)]


@pytest.mark.parametrize(
    "overrides",
    [
        {"locations-1-location": "lyon"},  # twice
        {"safety_buffer": "-1"},
        {"name": ""},
        {"sourcing_strategy": "cheapest"},
        {"locations-1-location": "nowhere"},
    ],
)
def test_invalid_channel_settings_change_nothing(manager_client, channels, overrides):
    before = (
        list(Channel.objects.values_list("code", "name", "safety_buffer", "sourcing_strategy")),
        list(ChannelLocation.objects.values_list("channel__code", "location__code", "priority")),
    )
    response = manager_client.post(detail(), _post_data(**overrides))
    assert response.status_code == 400
    after = (
        list(Channel.objects.values_list("code", "name", "safety_buffer", "sourcing_strategy")),
        list(ChannelLocation.objects.values_list("channel__code", "location__code", "priority")),
    )
    assert after == before


def test_unknown_channel_is_404(manager_client, db):
    assert manager_client.get(detail("nope")).status_code == 404


def test_customer_service_cannot_change_channels(client, role_users, channels):
    client.force_login(role_users[CUSTOMER_SERVICE])
    assert client.post(detail(), _post_data()).status_code == 403
    assert Channel.objects.get(code="web").name == "Web"


# --- API keys -----------------------------------------------------------------------------------


def _create_key(client, **data):
    data = {f"key-{name}": value for name, value in data.items()}
    return client.post(reverse("orders:api_key_create", kwargs={"code": "web"}), data)


def test_a_new_key_is_shown_once_and_stored_hashed(manager_client, channels):
    response = _create_key(manager_client, name="Shopify sync", scopes=["orders", "stock"])

    assert response.status_code == 200
    raw = response.context["raw_key"]
    assert raw.startswith("oms_")
    assert raw in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get(name="Shopify sync")
    assert key.channel == channels["web"]
    assert key.scopes == ["orders", "stock"]
    assert key.hashed_key == hashlib.sha256(raw.encode()).hexdigest()
    assert key.prefix == raw[:12]
    stored = [str(v) for v in ApiKey.objects.filter(pk=key.pk).values().get().values()]
    assert not any(raw in v for v in stored)
    # never again: not on the channel page, not on the revoke page
    assert raw not in manager_client.get(detail()).content.decode()
    revoke_url = reverse("orders:api_key_revoke", kwargs={"code": "web", "pk": key.pk})
    assert raw not in manager_client.get(revoke_url).content.decode()


def test_a_key_needs_a_scope(manager_client, channels):
    before = ApiKey.objects.count()
    response = _create_key(manager_client, name="x")
    assert response.status_code == 400
    assert "scopes" in response.context["form"].errors
    assert ApiKey.objects.count() == before
    assert _create_key(manager_client, name="x", scopes=["everything"]).status_code == 400
    assert ApiKey.objects.count() == before


def test_the_new_key_works_on_the_api_until_it_is_revoked(manager_client, client, channels, warehouse):
    ProductFactory(sku="TEE")
    raw = _create_key(manager_client, name="shop", scopes=["stock"]).context["raw_key"]
    key = ApiKey.objects.get(name="shop")
    api = reverse("api-availability")

    ok = client.get(api, {"sku": "TEE"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ok.status_code == 200

    revoke_url = reverse("orders:api_key_revoke", kwargs={"code": "web", "pk": key.pk})
    page = manager_client.get(revoke_url)
    assert page.status_code == 200
    assert page.context["key"] == key
    response = manager_client.post(revoke_url)
    assert response.status_code == 302
    assert response["Location"] == detail() + "#api-keys"
    key.refresh_from_db()
    assert key.revoked_at is not None

    refused = client.get(api, {"sku": "TEE"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"


def test_revoking_twice_keeps_the_first_date(manager_client, channels):
    key = ApiKey.objects.get(name="old")
    first = key.revoked_at
    url = reverse("orders:api_key_revoke", kwargs={"code": "web", "pk": key.pk})
    assert manager_client.post(url).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at == first


def test_a_key_is_revoked_only_through_its_own_channel(manager_client, channels):
    key = ApiKey.objects.get(name="live")
    url = reverse("orders:api_key_revoke", kwargs={"code": "shopify", "pk": key.pk})
    assert manager_client.post(url).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_channel_list_empty_state(manager_client, db):
    LocationFactory(code="lyon")
    response = manager_client.get(reverse("orders:channel_list"))
    assert response.status_code == 200
    assert b'class="empty-state"' in response.content
