from django.urls import reverse

from inventory.models import Location
from oms.roles import MANAGER, WAREHOUSE_STAFF


def test_warehouse_staff_see_only_their_locations(client, role_users, other_warehouse):
    client.force_login(role_users[WAREHOUSE_STAFF])
    html = client.get(reverse("inventory:location_list")).content.decode()
    assert "Entrepôt Lyon" in html
    assert "Entrepôt Lille" not in html


def test_manager_creates_a_location(client, role_users):
    client.force_login(role_users[MANAGER])
    data = {
        "code": "nantes",
        "name": "Entrepôt Nantes",
        "kind": "warehouse",
        "address_line1": "1 quai",
        "postcode": "44000",
        "city": "Nantes",
        "country": "FR",
        "latitude": "47.218371",
        "longitude": "-1.553621",
        "active": "on",
    }
    response = client.post(reverse("inventory:location_create"), data)
    assert response.status_code == 302
    assert Location.objects.get(code="nantes").city == "Nantes"


def test_invalid_location_shows_errors_and_writes_nothing(client, role_users):
    client.force_login(role_users[MANAGER])
    before = Location.objects.count()
    data = {"code": "bad code!", "name": "", "kind": "warehouse", "latitude": "123", "longitude": "0"}
    response = client.post(reverse("inventory:location_create"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "form-errors" in html
    assert 'value="bad code!"' in html  # what the user typed is kept
    assert Location.objects.count() == before


def test_a_location_address_is_checked_and_normalised(client, role_users):
    client.force_login(role_users[MANAGER])
    data = {
        "code": "nantes",
        "name": "Entrepôt Nantes",
        "kind": "warehouse",
        "address_line1": "1 quai",
        "postcode": "4400",
        "city": "Nantes",
        "country": "FR",
        "latitude": "47.218371",
        "longitude": "-1.553621",
        "active": "on",
    }
    response = client.post(reverse("inventory:location_create"), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.context["form"].errors["postcode"] == [
        "“4400” is not a valid postcode for France (for example 75004)."
    ]
    assert not Location.objects.filter(code="nantes").exists()
    response = client.post(
        reverse("inventory:location_create"), {**data, "postcode": "44 000", "country": "fr"}
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Location.objects.filter(code="nantes").values_list("postcode", "country").get() == ("44000", "FR")
