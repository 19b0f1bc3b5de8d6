"""The kit page of the catalogue: what a kit is made of, what its components allow per location, and the
form managers use to make a product a kit or change its components."""

import pytest
from django.urls import reverse
from django.utils import translation

from inventory import services as inventory_services
from inventory.models import KitComponent
from oms.roles import MANAGER, WAREHOUSE_STAFF
from tests.inventory.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def parts(warehouse, store):
    tea = ProductFactory(sku="TEA", name="Green tea")
    cup = ProductFactory(sku="CUP", name="Cup")
    box = ProductFactory(sku="BOX", name="Tea box", ean="")
    inventory_services.stock_receive(product=tea, location=warehouse, quantity=7)
    inventory_services.stock_receive(product=cup, location=warehouse, quantity=4)
    inventory_services.stock_receive(product=tea, location=store, quantity=3)
    return tea, cup, box


def _form(rows):
    data = {
        "components-TOTAL_FORMS": str(len(rows)),
        "components-INITIAL_FORMS": "0",
        "components-MIN_NUM_FORMS": "0",
        "components-MAX_NUM_FORMS": "50",
    }
    for i, (code, quantity) in enumerate(rows):
        data[f"components-{i}-code"] = code
        data[f"components-{i}-quantity"] = str(quantity)
    return data


def test_a_manager_makes_a_product_a_kit_and_sees_what_each_location_can_make(client, role_users, parts):
    tea, cup, box = parts
    client.force_login(role_users[MANAGER])
    url = reverse("inventory:product_kit", args=[box.pk])
    assert "Make a kit" in client.get(url).content.decode()

    response = client.post(url, _form([("TEA", 1), (cup.ean, 2), ("", "")]))

    assert response.status_code == 302
    box.refresh_from_db()
    assert box.is_kit
    assert sorted(KitComponent.objects.filter(kit=box).values_list("component__sku", "quantity")) == [
        ("CUP", 2),
        ("TEA", 1),
    ]
    html = client.get(url).content.decode()
    # lyon: 7 teas, 4 cups → 2 kits (cups); the store: 3 teas, no cup → 0
    assert "Kits available by location" in html
    assert "<strong>2</strong>" in html and "CUP" in html
    catalogue = client.get(reverse("inventory:catalogue")).content.decode()
    assert 'data-status="kit"' in catalogue


def test_unknown_components_and_refusals_keep_what_was_typed(client, role_users, parts):
    tea, cup, box = parts
    client.force_login(role_users[MANAGER])
    url = reverse("inventory:product_kit", args=[box.pk])

    response = client.post(url, _form([("NOPE", 1), ("TEA", 1)]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "No product has this SKU or EAN." in html and 'value="NOPE"' in html

    response = client.post(url, _form([("BOX", 1)]))
    assert response.status_code == 400
    assert "A kit cannot contain itself." in response.content.decode()

    response = client.post(reverse("inventory:product_kit", args=[tea.pk]), _form([("CUP", 1)]))
    assert response.status_code == 400
    assert "has stock, replenishments or reservations of its own" in response.content.decode()
    box.refresh_from_db()
    tea.refresh_from_db()
    assert not box.is_kit and not tea.is_kit and not KitComponent.objects.exists()


def test_an_empty_composition_sells_the_product_on_its_own_again(client, role_users, parts):
    tea, cup, box = parts
    inventory_services.kit_set_components(kit=box, components=[(tea, 1)])
    client.force_login(role_users[MANAGER])
    response = client.post(reverse("inventory:product_kit", args=[box.pk]), _form([("", "")]))
    assert response.status_code == 302
    box.refresh_from_db()
    assert not box.is_kit


def test_warehouse_staff_read_the_kit_but_cannot_change_it(client, role_users, parts):
    tea, cup, box = parts
    inventory_services.kit_set_components(kit=box, components=[(tea, 2), (cup, 1)])
    client.force_login(role_users[WAREHOUSE_STAFF])
    url = reverse("inventory:product_kit", args=[box.pk])
    html = client.get(url).content.decode()
    assert "In one kit" in html and "Save the kit" not in html
    assert client.post(url, _form([("TEA", 1)])).status_code == 403
    assert KitComponent.objects.filter(kit=box).count() == 2
