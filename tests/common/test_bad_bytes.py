"""Bad bytes in any part of a page's request are the 400 page, never a 500: the middleware refuses a NUL in
the path, the query, a header or a form field, and paths and query strings that are not UTF-8. (The API's
side: tests/api/test_contract_bad_bytes.py and the schema sweep tests/api/test_bad_input.py.)"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from oms.roles import MANAGER

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/orders/?q=%00", "/orders/?q=%FF", "/orders/?q=%ED%A0%80", "/orders/%00/", "/orders/%FF/"]
)
def test_a_page_with_bad_bytes_in_its_url_is_the_400_page(client, role_users, url):
    client.force_login(role_users[MANAGER])
    response = client.get(url)
    assert response.status_code == 400
    assert b"Bad request" in response.content


def test_a_nul_in_a_back_office_form_is_the_400_page_and_changes_nothing(client, role_users):
    from inventory.models import Location

    client.force_login(role_users[MANAGER])
    before = Location.objects.count()
    response = client.post(
        "/locations/new/",
        {"code": "nantes", "name": "Entrepôt\x00", "kind": "warehouse", "postcode": "44000"},
    )
    assert response.status_code == 400
    assert Location.objects.count() == before


def test_a_nul_in_a_multipart_form_field_is_a_400(client, role_users):
    client.force_login(role_users[MANAGER])
    response = client.post(
        "/settings/channels/web/import/",
        {"action": "upload\x00", "upload-file": SimpleUploadedFile("orders.csv", b"a;b\n")},
    )
    assert response.status_code == 400


def test_a_nul_in_the_portal_sign_in_is_a_400(client, db):
    response = client.post("/account/signin/", {"email": "a\x00@example.fr", "password": "x"})
    assert response.status_code == 400


def test_a_nul_in_a_header_of_a_page_is_a_400(client, role_users):
    client.force_login(role_users[MANAGER])
    assert client.get("/orders/", headers={"X-Anything": "a\x00b"}).status_code == 400


def test_webhook_bodies_are_left_to_their_endpoint(client, db):
    # /webhooks/ reads its raw body itself (a signed bad body is stored as a failed delivery), so the
    # middleware does not parse its form fields: the unsigned WooCommerce ping is still answered.
    from orders.models import Channel
    from tests.orders.factories import ChannelFactory

    ChannelFactory(code="woo", kind=Channel.Kind.WOOCOMMERCE)
    response = client.post(
        "/webhooks/woocommerce/woo/", "webhook_id=1\x00", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
