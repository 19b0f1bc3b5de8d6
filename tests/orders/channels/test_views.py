"""The connector page: secrets are write-only, kept when left blank, erased on demand; bad settings are
refused on the form."""

import pytest

from oms.roles import MANAGER
from orders.models import ChannelConnection
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
        assert client.get(reverse(f"admin:orders_{model}_changelist")).status_code == 200
    connection = ChannelConnection.objects.get(channel=shopify_channel)
    page = client.get(reverse("admin:orders_channelconnection_change", args=[connection.pk])).content.decode()
    assert SECRET not in page and "shpat_test" not in page
