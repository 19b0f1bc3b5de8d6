"""Django admin of the orders app: every page opens; keys are revoked by an action, never added."""

import pytest
from django.urls import reverse

from orders.models import ApiKey
from orders.services.api_keys import api_key_create
from tests.oms.factories import UserFactory
from tests.orders.factories import role_matrix_objects

MODELS = ["channel", "apikey", "order", "idempotencykey"]


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    role_matrix_objects()
    return client


@pytest.mark.parametrize("model", MODELS)
def test_changelists_open(admin_client, model):
    assert admin_client.get(reverse(f"admin:orders_{model}_changelist")).status_code == 200


def test_order_and_channel_pages_open(admin_client):
    from orders.models import Channel, Order

    order = Order.objects.get(number="CMD-MATRIX-1")
    assert admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200
    channel = Channel.objects.get(code="web")
    assert admin_client.get(reverse("admin:orders_channel_change", args=[channel.pk])).status_code == 200
    assert admin_client.get(reverse("admin:orders_order_changelist"), {"q": "MATRIX"}).status_code == 200


def test_no_adding_keys_or_orders_in_admin(admin_client):
    assert admin_client.get(reverse("admin:orders_apikey_add")).status_code == 403
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403


def test_revoke_action(admin_client):
    from orders.models import Channel

    key, _raw = api_key_create(channel=Channel.objects.get(code="web"), scopes=["all"])
    response = admin_client.post(
        reverse("admin:orders_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1  # the matrix key stays
