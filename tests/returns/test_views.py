from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import StockMovement
from invoicing.models import CreditNote
from invoicing.services.issue import invoice_issue_for_order
from oms.roles import CUSTOMER_SERVICE, STORE_STAFF
from returns import services
from returns.models import Return
from tests.invoicing.factories import LegalEntityFactory
from tests.oms.factories import UserFactory

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def portal_url(order, name="returns:request", **kwargs):
    return reverse(name, kwargs={"token": order.tracking_token, **kwargs})


def form(world, order=None, **fields):
    order = order or world.order
    data = {"method": "post"}
    for line in order.lines.all():
        data[f"qty_{line.pk}"] = "0"
        data[f"reason_{line.pk}"] = ""
    data.update(fields)
    return data


def test_portal_form_lists_what_may_come_back(client, world):
    response = client.get(portal_url(world.order), **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "TSHIRT" in html and "MUG" in html
    assert "up to 2" in html
    assert world.paris.name in html


def test_portal_request_creates_the_return(client, world):
    tshirt = world.line(world.order, "TSHIRT")
    data = form(
        world, **{f"qty_{tshirt.pk}": "2", f"reason_{tshirt.pk}": str(world.reasons["wrong_size"].pk)}
    )

    response = client.post(portal_url(world.order), data, **EN)

    ret = Return.objects.get()
    assert response.status_code == 302
    assert response["Location"] == portal_url(world.order, "returns:portal_detail", number=ret.number)
    assert ret.source == "portal" and ret.created_by is None
    assert list(ret.lines.values_list("quantity", flat=True)) == [2]
    page = client.get(response["Location"], **EN)
    assert ret.number in page.content.decode()


def test_portal_request_over_quantity_shows_the_error_and_keeps_the_input(client, world):
    tshirt = world.line(world.order, "TSHIRT")
    data = form(
        world, **{f"qty_{tshirt.pk}": "5", f"reason_{tshirt.pk}": str(world.reasons["wrong_size"].pk)}
    )

    response = client.post(portal_url(world.order), data, **EN)

    assert response.status_code == 422
    html = response.content.decode()
    assert "at most 2 item(s) can be returned, not 5" in html
    assert 'value="5"' in html
    assert not Return.objects.exists()


def test_portal_refuses_an_order_not_shipped(client, world):
    order = world.make_order(status="allocated", shipped=False)
    response = client.get(portal_url(order), **EN)
    assert "has not shipped yet" in response.content.decode()
    assert client.post(portal_url(order), form(world, order), **EN).status_code == 422
    assert not Return.objects.exists()


def test_portal_with_an_unknown_token_or_another_orders_token_is_404(client, world):
    assert client.get(reverse("returns:request", kwargs={"token": "nope"}), **EN).status_code == 404
    other = world.make_order()
    ret = world.request(order=other)
    # The return of ``other`` under the first order's token: not found.
    url = portal_url(world.order, "returns:portal_detail", number=ret.number)
    assert client.get(url, **EN).status_code == 404
    assert client.get(portal_url(other, "returns:portal_detail", number=ret.number), **EN).status_code == 200


def test_portal_label_download(client, world, django_capture_on_commit_callbacks):
    ret = world.request()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_accept(ret=ret)
    response = client.get(portal_url(world.order, "returns:portal_label", number=ret.number))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


@pytest.fixture
def cs(world, client):
    user = UserFactory(username="cs-returns", role=CUSTOMER_SERVICE)
    client.force_login(user)
    return user


def test_order_page_offers_create_a_return_and_lists_returns(client, world, cs):
    ret = world.request()
    html = client.get(reverse("orders:order_detail", args=[world.order.number]), **EN).content.decode()
    assert reverse("returns:create", args=[world.order.number]) in html
    fragment = reverse("returns:order_returns", args=[world.order.number])
    assert f'hx-get="{fragment}"' in html  # the returns come from returns' fragment
    listed = client.get(fragment, HTTP_HX_REQUEST="true", **EN).content.decode()
    assert reverse("returns:detail", args=[ret.number]) in listed


def test_customer_service_creates_a_return_in_store(client, world, cs):
    mug = world.line(world.order, "MUG")
    data = form(
        world,
        method="store",
        store=str(world.paris.pk),
        **{f"qty_{mug.pk}": "1", f"reason_{mug.pk}": str(world.reasons["damaged"].pk)},
    )

    response = client.post(reverse("returns:create", args=[world.order.number]), data, **EN)

    ret = Return.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "returns:detail", args=[ret.number]
    )
    assert (ret.source, ret.created_by, ret.location, ret.method) == ("staff", cs, world.paris, "store")


def test_list_filters(client, world, cs):
    first = world.request()
    other = world.make_order()
    second = world.request(order=other)
    services.return_reject(ret=second, reason="No")

    def numbers(**params):
        html = client.get(reverse("returns:list"), params, **EN).content.decode()
        return {n for n in (first.number, second.number) if n in html}

    assert numbers() == {first.number, second.number}
    assert numbers(status="rejected") == {second.number}
    assert numbers(q=world.order.number) == {first.number}
    assert numbers(channel="web") == {first.number, second.number}
    assert numbers(channel="other") == set()


def test_accept_receive_refund_through_the_pages(client, world, cs, django_capture_on_commit_callbacks):
    ret = world.request(items=[("TSHIRT", 2, "wrong_size")])
    detail = reverse("returns:detail", args=[ret.number])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("returns:action", args=[ret.number, "accept"]), **EN)
    assert response.status_code == 302 and response["Location"] == detail
    assert "Return label (PDF)" in client.get(detail, **EN).content.decode()

    manager = UserFactory(username="mg-returns", role="Manager")
    client.force_login(manager)
    line = ret.lines.get()
    receive = reverse("returns:receive", args=[ret.number])
    assert client.get(receive, **EN).status_code == 200
    refused = client.post(
        receive, {"location": world.lyon.pk, f"restock_{line.pk}": "2", f"write_off_{line.pk}": "1"}, **EN
    )
    assert refused.status_code == 422
    assert "only 2 returned" in refused.content.decode()
    assert not StockMovement.objects.filter(reference=ret.number).exists()
    response = client.post(
        receive, {"location": world.lyon.pk, f"restock_{line.pk}": "2", f"write_off_{line.pk}": "0"}, **EN
    )
    assert response.status_code == 302

    client.force_login(cs)
    html = client.get(detail, **EN).content.decode()
    assert "€39.80" in html
    response = client.post(
        reverse("returns:action", args=[ret.number, "refund"]), {"reference": "PAY-77"}, **EN
    )
    ret.refresh_from_db()
    assert (
        ret.status == "refunded"
        and ret.refund_amount == Decimal("39.80")
        and ret.refund_reference == "PAY-77"
    )


def test_reject_without_reason_shows_a_message(client, world, cs):
    ret = world.request()
    response = client.post(
        reverse("returns:action", args=[ret.number, "reject"]), {"reason": ""}, follow=True, **EN
    )
    assert "Say why the return is rejected." in response.content.decode()
    ret.refresh_from_db()
    assert ret.status == "requested"


def test_store_staff_receive_returns_at_their_store_only(client, world, django_capture_on_commit_callbacks):
    at_store = world.request(method="store", store=world.paris)
    by_post = world.request(items=[("MUG", 1, "changed_mind")])
    services.return_accept(ret=at_store)
    staff = UserFactory(username="st-returns", role=STORE_STAFF, locations=[world.paris])
    client.force_login(staff)

    html = client.get(reverse("returns:list"), **EN).content.decode()
    assert at_store.number in html and by_post.number not in html
    assert client.get(reverse("returns:detail", args=[by_post.number]), **EN).status_code == 404
    assert client.post(reverse("returns:action", args=[at_store.number, "accept"]), **EN).status_code == 403

    line = at_store.lines.get()
    url = reverse("returns:receive", args=[at_store.number])
    # Not at a location of theirs: refused, nothing moved.
    response = client.post(
        url, {"location": world.lyon.pk, f"restock_{line.pk}": "1", f"write_off_{line.pk}": "0"}, **EN
    )
    assert response.status_code == 422
    assert "Choose one of your locations." in response.content.decode()
    assert not StockMovement.objects.filter(reference=at_store.number).exists()

    response = client.post(
        url, {"location": world.paris.pk, f"restock_{line.pk}": "1", f"write_off_{line.pk}": "0"}, **EN
    )
    assert response.status_code == 302
    assert world.on_hand(world.tshirt, world.paris) == 1


def test_the_return_page_shows_the_credit_note_once_refunded(client, world, cs):
    # given an invoiced order whose return was received
    LegalEntityFactory()
    invoice_issue_for_order(order=world.order, scope="shipped")
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    services.return_accept(ret=ret)
    services.return_receive(ret=ret, location=world.lyon, results={ret.lines.get().pk: (1, 0)})
    detail = reverse("returns:detail", args=[ret.number])

    # when customer service records the refund on the return's page
    response = client.post(
        reverse("returns:action", args=[ret.number, "refund"]), {"reference": "PAY-78"}, **EN
    )

    # then the page they come back to shows the credit note, linked to its document
    note = CreditNote.objects.get()
    assert response.status_code == 302 and response["Location"] == detail
    html = client.get(detail, **EN).content.decode()
    assert f'<a href="{reverse("invoicing:document_detail", args=[note.pk])}">{note.number}</a>' in html
    assert "€12.00" in html


def test_the_customer_page_lists_the_customer_returns_from_the_returns_fragment(client, world, cs):
    # given a customer with a return
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    customer = world.order.customer
    fragment = reverse("returns:customer_returns", args=[customer.pk])

    # when customer service opens the customer's page, it loads the returns' fragment
    page = client.get(reverse("customers:detail", args=[customer.pk]), **EN).content.decode()
    assert f'hx-get="{fragment}"' in page
    answer = client.get(fragment, HTTP_HX_REQUEST="true", **EN)

    # then the fragment lists the return, linked to its page, and its order
    html = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in html
    assert f'<a href="{reverse("returns:detail", args=[ret.number])}">{ret.number}</a>' in html
    assert world.order.number in html
    # opened without htmx (no JavaScript), the same list is a page of its own
    assert ret.number in client.get(fragment, **EN).content.decode()


def test_the_customer_returns_fragment_is_for_those_who_see_customers(client, world):
    world.request(items=[("MUG", 1, "changed_mind")])
    client.force_login(UserFactory(username="st-fragment", role=STORE_STAFF, locations=[world.paris]))

    answer = client.get(reverse("returns:customer_returns", args=[world.order.customer.pk]), **EN)

    assert answer.status_code == 403


def test_the_order_page_lists_its_returns_from_the_returns_fragment(client, world, cs):
    # given an order with a return, and another without
    ret = world.request(items=[("MUG", 1, "changed_mind")])
    other = world.make_order()
    fragment = reverse("returns:order_returns", args=[world.order.number])

    # when the order's page is opened, it loads the returns' fragment
    page = client.get(reverse("orders:order_detail", args=[world.order.number]), **EN).content.decode()
    assert f'hx-get="{fragment}"' in page
    answer = client.get(fragment, HTTP_HX_REQUEST="true", **EN)

    # then the fragment lists the return, linked to its page
    html = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in html
    assert f'<a href="{reverse("returns:detail", args=[ret.number])}">{ret.number}</a>' in html
    # and an order without return gets nothing (the placeholder disappears)
    empty = client.get(reverse("returns:order_returns", args=[other.number]), HTTP_HX_REQUEST="true", **EN)
    assert empty.status_code == 200 and empty.content.decode().strip() == ""


def test_the_order_returns_fragment_keeps_the_order_scope(client, world):
    # given store staff of a store that does not handle the order
    world.request(items=[("MUG", 1, "changed_mind")])
    client.force_login(UserFactory(username="st-scope", role=STORE_STAFF, locations=[world.paris]))

    answer = client.get(reverse("returns:order_returns", args=[world.order.number]), **EN)

    assert answer.status_code == 404
