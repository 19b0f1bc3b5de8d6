"""The goods-receipt scan screen (/stock/receive/)."""

import pytest
from django.urls import reverse

from inventory.models import StockLevel, StockMovement
from tests.inventory.factories import ProductFactory

URL = "/stock/receive/"


def _post(client, data, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "scan-feedback"} if htmx else {}
    return client.post(URL, data, **headers)


def test_url_name():
    assert reverse("inventory:receive") == URL


def test_receipt_by_ean_writes_one_movement_and_updates_on_hand(client, product, warehouse, warehouse_user):
    # given
    client.force_login(warehouse_user)
    # when a scanner types the EAN and Enter, three times the quantity
    response = _post(
        client,
        {
            "location": "lyon",
            "code": "3760000000017",
            "quantity": "3",
            "bin_code": "A-01-2",
            "reference": "BL-77",
        },
    )
    # then
    assert response.status_code == 200
    movement = StockMovement.objects.get()
    assert (movement.product, movement.location, movement.delta, movement.reason) == (
        product,
        warehouse,
        3,
        "receipt",
    )
    assert (movement.reference, movement.on_hand_after, movement.actor) == ("BL-77", 3, warehouse_user)
    level = StockLevel.objects.get(product=product, location=warehouse)
    assert (level.on_hand, level.reserved, level.bin_code) == (3, 0, "A-01-2")
    html = response.content.decode()
    assert "scan-card--ok" in html
    assert (
        'id="recent-receipts" class="scan__recent" aria-labelledby="recent-title" hx-swap-oob="true"' in html
    )
    assert "<html" not in html  # a fragment for htmx


def test_receipt_message_in_english(client, product, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        URL,
        {"location": "lyon", "code": "TSHIRT-M", "quantity": "3"},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "3 × TSHIRT-M received at Entrepôt Lyon, now 3 on hand." in response.content.decode()


def test_a_second_scan_adds_up(client, product, warehouse, warehouse_user):
    client.force_login(warehouse_user)
    _post(client, {"location": "lyon", "code": "3760000000017", "quantity": "1"})
    _post(client, {"location": "lyon", "code": "tshirt-m", "quantity": "2"})  # SKU, any case
    assert StockLevel.objects.get(product=product, location=warehouse).on_hand == 3
    assert list(StockMovement.objects.order_by("pk").values_list("delta", "on_hand_after")) == [
        (1, 1),
        (2, 3),
    ]


def test_a_upc_a_code_finds_the_ean(client, warehouse_user):
    american = ProductFactory(sku="US-01", ean="0012345678905")
    client.force_login(warehouse_user)
    _post(client, {"location": "lyon", "code": "012345678905", "quantity": "1"})
    assert StockMovement.objects.get().product == american


def test_without_javascript_it_redirects_with_a_message(client, product, warehouse_user):
    client.force_login(warehouse_user)
    response = _post(
        client,
        {"location": "lyon", "code": "3760000000017", "quantity": "2", "reference": "BL 1"},
        htmx=False,
    )
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?location=lyon&reference=BL+1"
    page = client.get(response["Location"])
    assert [m.level_tag for m in page.context["messages"]] == ["success"]
    assert page.context["form"]["location"].value() == "lyon"
    assert StockMovement.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"location": "lyon", "code": "3000000000007", "quantity": "1"}, "code"),  # unknown EAN
        ({"location": "lyon", "code": "", "quantity": "1"}, "code"),
        ({"location": "lyon", "code": "3760000000017", "quantity": "0"}, "quantity"),
        ({"location": "lyon", "code": "3760000000017", "quantity": "-4"}, "quantity"),
        ({"location": "lyon", "code": "3760000000017", "quantity": "abc"}, "quantity"),
        ({"location": "paris", "code": "3760000000017", "quantity": "1"}, "location"),  # not this user's
        ({"location": "nowhere", "code": "3760000000017", "quantity": "1"}, "location"),
    ],
)
def test_refusals_write_nothing(client, product, store, warehouse_user, data, field):
    client.force_login(warehouse_user)
    response = _post(client, data)
    assert response.status_code == 422  # the htmx fragment (400 without JavaScript, below)
    assert list(response.context["form"].errors) == [field]
    assert "scan-card--refused" in response.content.decode()
    assert StockMovement.objects.count() == 0
    assert StockLevel.objects.count() == 0


def test_unknown_ean_is_refused_without_javascript_and_what_was_typed_is_kept(
    client, product, warehouse_user
):
    client.force_login(warehouse_user)
    response = _post(client, {"location": "lyon", "code": "3000000000007", "quantity": "5"}, htmx=False)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="3000000000007"' in html
    assert 'value="5"' in html
    assert "scan-card--refused" in html
    assert StockMovement.objects.count() == 0


def test_an_inactive_product_is_refused(client, product, warehouse_user):
    product.active = False
    product.save()
    client.force_login(warehouse_user)
    response = _post(client, {"location": "lyon", "code": "3760000000017", "quantity": "1"})
    assert response.status_code == 422
    assert response.context["form"].errors.as_data()["code"][0].code == "inactive_product"
    assert StockMovement.objects.count() == 0


def test_the_feedback_is_announced(client, warehouse_user):
    client.force_login(warehouse_user)
    html = client.get(URL).content.decode()
    assert 'id="scan-feedback" class="scan__feedback" role="status" aria-live="polite"' in html
    assert "autofocus" in html
    assert 'class="scan-input"' in html


def test_the_location_list_has_only_the_users_locations(client, store, warehouse_user):
    client.force_login(warehouse_user)
    form = client.get(URL).context["form"]
    assert [loc.code for loc in form.fields["location"].queryset] == ["lyon"]


def test_customer_service_may_not_receive(client, product, role_users):
    from oms.roles import CUSTOMER_SERVICE

    client.force_login(role_users[CUSTOMER_SERVICE])
    response = _post(client, {"location": "lyon", "code": "3760000000017", "quantity": "1"})
    assert response.status_code == 403
    assert StockMovement.objects.count() == 0
