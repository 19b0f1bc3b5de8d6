"""Django admin of the stock models: the ledger is read-only."""

from django.urls import reverse

from inventory import services
from inventory.models import StockMovement
from tests.oms.factories import UserFactory


def _admin(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_changelists_render(client, stocked):
    _admin(client)
    for model in ("product", "stocklevel", "stockmovement", "incomingstock", "allocation"):
        response = client.get(reverse(f"admin:inventory_{model}_changelist"))
        assert response.status_code == 200, model
    response = client.get(reverse("admin:inventory_product_changelist"), {"q": "3760000000017"})
    assert response.context["cl"].result_count == 1


def test_the_ledger_is_read_only(client, stocked):
    _admin(client)
    movement = StockMovement.objects.first()
    delta = movement.delta
    assert client.get(reverse("admin:inventory_stockmovement_add")).status_code == 403
    assert client.get(reverse("admin:inventory_stockmovement_delete", args=[movement.pk])).status_code == 403
    response = client.post(
        reverse("admin:inventory_stockmovement_change", args=[movement.pk]),
        {"delta": "99", "reason": "receipt"},
    )
    assert response.status_code == 403
    movement.refresh_from_db()
    assert movement.delta == delta
    assert client.get(reverse("admin:inventory_stockmovement_change", args=[movement.pk])).status_code == 200


def test_stock_levels_cannot_be_edited_by_hand(client, stocked, warehouse):
    _admin(client)
    level = stocked.stock_levels.get(location=warehouse)
    response = client.post(
        reverse("admin:inventory_stocklevel_change", args=[level.pk]), {"on_hand": "999", "bin_code": "B-2"}
    )
    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.bin_code) == (10, "B-2")
    assert client.get(reverse("admin:inventory_stocklevel_add")).status_code == 403
    services.stock_receive(
        product=stocked, location=warehouse, quantity=1
    )  # still consistent with its ledger
    level.refresh_from_db()
    assert level.on_hand == 11
