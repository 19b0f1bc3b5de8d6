"""Transfers between locations, purchase orders, and receiving them (/stock/transfers/, /stock/incoming/)."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory import services
from inventory.models import IncomingStock, StockLevel, StockMovement


def _on_hand(product, location):
    return StockLevel.objects.get(product=product, location=location).on_hand


def _in_days(days):
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def test_urls():
    assert reverse("inventory:transfer_list") == "/stock/transfers/"
    assert reverse("inventory:transfer_create") == "/stock/transfers/new/"
    assert reverse("inventory:incoming_create") == "/stock/incoming/new/"
    assert reverse("inventory:incoming_receive", args=[7]) == "/stock/incoming/7/receive/"


def test_transfer_out_then_receive_in(client, stocked, warehouse, store, manager):
    client.force_login(manager)
    # when 3 units leave lyon for the paris store
    response = client.post(
        reverse("inventory:transfer_create"),
        {
            "code": "TSHIRT-M",
            "from_location": "lyon",
            "to_location": "paris",
            "quantity": "3",
            "expected_on": _in_days(2),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:transfer_list")
    transfer = IncomingStock.objects.get(kind="transfer")
    assert (transfer.from_location, transfer.location, transfer.quantity, transfer.status) == (
        warehouse,
        store,
        3,
        "open",
    )
    assert (_on_hand(stocked, warehouse), _on_hand(stocked, store)) == (7, 4)
    # the transfer list shows it in transit
    listing = client.get(reverse("inventory:transfer_list"))
    assert [t.pk for t in listing.context["in_transit"]] == [transfer.pk]
    # and the store receives it
    response = client.post(
        reverse("inventory:incoming_receive", args=[transfer.pk]),
        {"quantity": "3", "next": "/stock/transfers/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/stock/transfers/"
    assert (_on_hand(stocked, warehouse), _on_hand(stocked, store)) == (7, 7)
    ledger = list(
        StockMovement.objects.filter(reason__in=["transfer_out", "transfer_in"])
        .order_by("pk")
        .values_list("reason", "location__code", "delta", "on_hand_after")
    )
    assert ledger == [("transfer_out", "lyon", -3, 7), ("transfer_in", "paris", 3, 7)]
    transfer.refresh_from_db()
    assert (transfer.quantity, transfer.status) == (0, "received")
    listing = client.get(reverse("inventory:transfer_list"))
    assert list(listing.context["in_transit"]) == []
    assert [t.pk for t in listing.context["received"]] == [transfer.pk]


def test_partial_receipt_keeps_the_rest_expected(client, stocked, warehouse, store, manager):
    transfer = services.stock_transfer(
        product=stocked, from_location=warehouse, to_location=store, quantity=5, expected_on=date(2030, 1, 1)
    )
    client.force_login(manager)
    response = client.post(reverse("inventory:incoming_receive", args=[transfer.pk]), {"quantity": "2"})
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert (transfer.quantity, transfer.status) == (3, "open")
    assert _on_hand(stocked, store) == 6


@pytest.mark.parametrize("quantity", ["6", "0", "", "x"])
def test_receiving_more_than_expected_is_refused(client, stocked, warehouse, store, manager, quantity):
    transfer = services.stock_transfer(
        product=stocked, from_location=warehouse, to_location=store, quantity=5, expected_on=date(2030, 1, 1)
    )
    client.force_login(manager)
    response = client.post(reverse("inventory:incoming_receive", args=[transfer.pk]), {"quantity": quantity})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["quantity"]
    assert _on_hand(stocked, store) == 4
    assert not StockMovement.objects.filter(reason="transfer_in").exists()


def test_receiving_a_closed_replenishment_is_refused(client, stocked, warehouse, store, manager):
    transfer = services.stock_transfer(
        product=stocked, from_location=warehouse, to_location=store, quantity=1, expected_on=date(2030, 1, 1)
    )
    services.incoming_receive(incoming=transfer)
    client.force_login(manager)
    response = client.post(reverse("inventory:incoming_receive", args=[transfer.pk]), {"quantity": "1"})
    assert response.status_code == 400
    assert StockMovement.objects.filter(reason="transfer_in").count() == 1


def test_staff_cannot_receive_at_another_location(client, stocked, warehouse, store, warehouse_user):
    # a transfer from lyon to the paris store: lyon's staff sent it, but only paris may receive it
    transfer = services.stock_transfer(
        product=stocked, from_location=warehouse, to_location=store, quantity=2, expected_on=date(2030, 1, 1)
    )
    client.force_login(warehouse_user)
    assert client.get(reverse("inventory:incoming_receive", args=[transfer.pk])).status_code == 403
    response = client.post(reverse("inventory:incoming_receive", args=[transfer.pk]), {"quantity": "2"})
    assert response.status_code == 403
    transfer.refresh_from_db()
    assert (transfer.quantity, transfer.status) == (2, "open")
    assert _on_hand(stocked, store) == 4
    # the sender still sees it in transit, without a receive form
    listing = client.get(reverse("inventory:transfer_list"))
    assert [(t.pk, t.receivable_here) for t in listing.context["in_transit"]] == [(transfer.pk, False)]


def test_store_staff_receive_at_their_store(client, stocked, warehouse, store, store_user):
    transfer = services.stock_transfer(
        product=stocked, from_location=warehouse, to_location=store, quantity=2, expected_on=date(2030, 1, 1)
    )
    client.force_login(store_user)
    response = client.post(reverse("inventory:incoming_receive", args=[transfer.pk]), {"quantity": "2"})
    assert response.status_code == 302
    assert _on_hand(stocked, store) == 6
    assert StockMovement.objects.get(reason="transfer_in").actor == store_user


def test_an_unknown_replenishment_is_404(client, manager):
    client.force_login(manager)
    assert (
        client.post(reverse("inventory:incoming_receive", args=[424242]), {"quantity": "1"}).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"from_location": "paris", "to_location": "lyon", "quantity": "1"}, "from_location"),  # not theirs
        ({"from_location": "lyon", "to_location": "lyon", "quantity": "1"}, "to_location"),
        ({"from_location": "lyon", "to_location": "paris", "quantity": "0"}, "quantity"),
        (
            {"from_location": "lyon", "to_location": "paris", "quantity": "1", "expected_on": "2001-01-01"},
            "expected_on",
        ),
        ({"from_location": "lyon", "to_location": "paris", "quantity": "1", "code": "NOPE"}, "code"),
    ],
)
def test_invalid_transfers_write_nothing(client, stocked, warehouse_user, data, field):
    client.force_login(warehouse_user)
    before = StockMovement.objects.count()
    response = client.post(
        reverse("inventory:transfer_create"), {"code": "TSHIRT-M", "expected_on": _in_days(1), **data}
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert StockMovement.objects.count() == before
    assert not IncomingStock.objects.exists()


def test_a_transfer_of_more_than_is_free_is_refused(client, stocked, warehouse, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        reverse("inventory:transfer_create"),
        {
            "code": "TSHIRT-M",
            "from_location": "lyon",
            "to_location": "paris",
            "quantity": "9",
            "expected_on": _in_days(1),
        },
    )
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert not IncomingStock.objects.exists()
    assert _on_hand(stocked, warehouse) == 10


def test_store_staff_may_not_create_transfers(client, stocked, store_user):
    client.force_login(store_user)
    response = client.post(
        reverse("inventory:transfer_create"),
        {
            "code": "TSHIRT-M",
            "from_location": "paris",
            "to_location": "lyon",
            "quantity": "1",
            "expected_on": _in_days(1),
        },
    )
    assert response.status_code == 403
    assert not IncomingStock.objects.exists()


# --- purchase orders --------------------------------------------------------------------------------


def test_create_receive_a_purchase_order(client, product, warehouse, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        reverse("inventory:incoming_create"),
        {
            "code": "3760000000017",
            "location": "lyon",
            "quantity": "20",
            "expected_on": _in_days(5),
            "reference": "PO-9",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:product_stock", args=["TSHIRT-M"])
    incoming = IncomingStock.objects.get()
    assert (incoming.kind, incoming.location, incoming.quantity, incoming.reference) == (
        "purchase",
        warehouse,
        20,
        "PO-9",
    )
    response = client.post(reverse("inventory:incoming_receive", args=[incoming.pk]), {"quantity": "20"})
    assert response["Location"] == reverse("inventory:product_stock", args=["TSHIRT-M"])
    movement = StockMovement.objects.get()
    assert (movement.reason, movement.delta, movement.reference) == ("receipt", 20, "PO-9")


def test_a_purchase_order_at_another_location_is_refused(client, product, store, warehouse_user):
    client.force_login(warehouse_user)
    response = client.post(
        reverse("inventory:incoming_create"),
        {"code": "TSHIRT-M", "location": "paris", "quantity": "20", "expected_on": _in_days(5)},
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["location"]
    assert not IncomingStock.objects.exists()


def test_cancel_a_purchase_order(client, product, warehouse, warehouse_user):
    incoming = services.incoming_create(
        product=product, location=warehouse, quantity=4, expected_on=date(2030, 1, 1)
    )
    client.force_login(warehouse_user)
    assert client.get(reverse("inventory:incoming_cancel", args=[incoming.pk])).status_code == 200
    response = client.post(reverse("inventory:incoming_cancel", args=[incoming.pk]))
    assert response.status_code == 302
    incoming.refresh_from_db()
    assert incoming.status == "cancelled"


def test_a_purchase_order_promised_to_pre_orders_cannot_be_cancelled(
    client, product, warehouse, warehouse_user
):
    incoming = services.incoming_create(
        product=product, location=warehouse, quantity=4, expected_on=date(2030, 1, 1)
    )
    services.incoming_reserve(incoming_id=incoming.pk, quantity=1)
    client.force_login(warehouse_user)
    response = client.post(reverse("inventory:incoming_cancel", args=[incoming.pk]))
    assert response.status_code == 400
    incoming.refresh_from_db()
    assert incoming.status == "open"


def test_a_transfer_cannot_be_cancelled(client, stocked, warehouse, store, manager):
    transfer = services.stock_transfer(
        product=stocked, from_location=warehouse, to_location=store, quantity=1, expected_on=date(2030, 1, 1)
    )
    client.force_login(manager)
    response = client.post(reverse("inventory:incoming_cancel", args=[transfer.pk]))
    assert response.status_code == 400
    transfer.refresh_from_db()
    assert transfer.status == "open"


def test_next_must_stay_on_this_site(client, product, warehouse, manager):
    incoming = services.incoming_create(
        product=product, location=warehouse, quantity=4, expected_on=date(2030, 1, 1)
    )
    client.force_login(manager)
    response = client.post(
        reverse("inventory:incoming_receive", args=[incoming.pk]),
        {"quantity": "1", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("inventory:product_stock", args=["TSHIRT-M"])
