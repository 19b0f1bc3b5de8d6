"""The connector page: secrets are write-only, kept when left blank, erased on demand; bad settings are
refused on the form."""

import pytest

from channels.models import ChannelConnection
from oms.roles import MANAGER
from tests.oms.factories import UserFactory

from .conftest import SECRET

pytestmark = pytest.mark.django_db

URL = "/settings/channels/shopify/connector/"


@pytest.fixture
def manager(client):
    client.force_login(UserFactory(role=MANAGER))


def form(**changes):
    data = {
        "base_url": "demo-shop.myshopify.com",
        "api_version": "2026-01",
        "access_token": "",
        "webhook_secret": "",
        "remote_location_id": "gid://shopify/Location/777",
        "delivery_modes": "Colissimo = home\nRetrait en magasin = store:paris\n* = home",
    }
    data.update(changes)
    return data


def test_secrets_are_never_shown_and_kept_when_left_blank(client, manager, shopify_channel):
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert SECRET not in page and "shpat_test" not in page
    response = client.post(URL, form(push_stock="on"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    connection = ChannelConnection.objects.get(channel=shopify_channel)
    assert (connection.webhook_secret, connection.access_token, connection.push_stock) == (
        SECRET,
        "shpat_test",
        True,
    )
    assert connection.delivery_modes == {
        "Colissimo": "home",
        "Retrait en magasin": "store:paris",
        "*": "home",
    }


def test_a_new_secret_replaces_and_erase_clears(client, manager, shopify_channel):
    client.post(URL, form(webhook_secret="new-secret", clear_access_token="on"), HTTP_ACCEPT_LANGUAGE="en")
    connection = ChannelConnection.objects.get(channel=shopify_channel)
    assert (connection.webhook_secret, connection.access_token) == ("new-secret", "")


def test_bad_settings_are_refused_on_the_form(client, manager, shopify_channel):
    response = client.post(
        URL,
        form(base_url="https://evil.example.com", delivery_modes="Colissimo = boat"),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "my-shop.myshopify.com" in html and "boat" in html
    assert ChannelConnection.objects.get(channel=shopify_channel).base_url == "demo-shop.myshopify.com"
    unknown_store = client.post(
        URL, form(delivery_modes="Retrait = store:nowhere"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert unknown_store.status_code == 400 and "nowhere" in unknown_store.content.decode()


def test_admin_shows_deliveries_and_connections_without_secrets(client, shopify_channel):
    from django.urls import reverse

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for model in ("webhookdelivery", "importjob", "channelconnection"):
        assert client.get(reverse(f"admin:channels_{model}_changelist")).status_code == 200
    connection = ChannelConnection.objects.get(channel=shopify_channel)
    change = reverse("admin:channels_channelconnection_change", args=[connection.pk])
    page = client.get(change).content.decode()
    assert SECRET not in page and "shpat_test" not in page


def test_amazon_connector_settings_with_the_refresh_token_encrypted(client, manager, lyon, paris):
    from django.db import connection as db

    from orders.models import Channel
    from tests.orders.factories import ChannelFactory

    ChannelFactory(code="amazon-fr", name="Amazon.fr", kind=Channel.Kind.AMAZON, locations=[lyon])
    url = "/settings/channels/amazon-fr/connector/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "LWA refresh token" in page and "Marketplace id" in page
    response = client.post(
        url,
        {
            "base_url": "https://sellingpartnerapi-eu.amazon.com",
            "api_key": "amzn1.application-oa2-client.abc",
            "api_secret": "lwa-secret",
            "refresh_token": "Atzr|IwEBI-refresh",
            "marketplace_id": "A13V1IB3VIYZZH",
            "seller_id": "A2SELLER0001",
            "poll_orders": "on",
            "delivery_modes": "Standard = home",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    saved = ChannelConnection.objects.get(channel__code="amazon-fr")
    assert (saved.refresh_token, saved.marketplace_id, saved.seller_id, saved.poll_orders) == (
        "Atzr|IwEBI-refresh",
        "A13V1IB3VIYZZH",
        "A2SELLER0001",
        True,
    )
    with db.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM orders_channelconnection WHERE id = %s", [saved.pk])
        stored = cursor.fetchone()[0]
    assert "Atzr" not in stored and stored  # encrypted at rest
    assert "Atzr|IwEBI-refresh" not in client.get(url).content.decode()


def test_fetch_orders_now_for_a_marketplace(client, manager, lyon, monkeypatch):
    from channels import tasks
    from orders.models import Channel
    from tests.orders.factories import ChannelFactory

    channel = ChannelFactory(code="fnac", name="Fnac Darty", kind=Channel.Kind.MIRAKL, locations=[lyon])
    ChannelConnection.objects.create(channel=channel, base_url="https://fnac.mirakl.net", poll_orders=True)
    queued = []
    monkeypatch.setattr(
        "common.jobs.enqueue_on_commit", lambda task, *args, **kw: queued.append((task, args))
    )
    page = client.get("/settings/channels/fnac/connector/sync/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Fetch orders" in page
    response = client.post("/settings/channels/fnac/connector/sync/", {"action": "poll"})
    assert response.status_code == 302
    assert queued == [(tasks.marketplace_poll, (channel.pk,))]


def test_a_mirakl_connector_is_put_in_sandbox_mode_from_its_page(client, manager, lyon):
    from orders.models import Channel
    from tests.orders.factories import ChannelFactory

    ChannelFactory(code="fnac", name="Fnac Darty", kind=Channel.Kind.MIRAKL, locations=[lyon])
    url = "/settings/channels/fnac/connector/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sandbox (offline demo: nothing leaves the server)" in page
    response = client.post(
        url,
        {"sandbox": "on", "poll_orders": "on", "delivery_modes": "Standard = home"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    saved = ChannelConnection.objects.get(channel__code="fnac")
    assert (saved.sandbox, saved.poll_orders, saved.base_url, saved.api_key) == (True, True, "", "")
    # a shop (not a marketplace) has no sandbox box
    ChannelFactory(code="presta", name="Presta", kind=Channel.Kind.PRESTASHOP, locations=[lyon])
    page = client.get("/settings/channels/presta/connector/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sandbox (offline demo" not in page
