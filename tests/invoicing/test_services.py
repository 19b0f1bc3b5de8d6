"""Issuing by policy, partial shipments, snapshots, immutability and credit notes."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Address
from invoicing.exceptions import CreditExceedsInvoice, NothingToCredit
from invoicing.models import ChannelBilling, CreditNote, ImmutableDocument, Invoice, LegalEntity
from invoicing.services import issue
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order
from orders.services.events import event_add
from orders.services.lifecycle import (
    order_cancel,
    order_mark_delivered,
    order_mark_partially_shipped,
    order_mark_shipped,
)
from tests.events import events_of
from tests.invoicing.factories import b2b_customer, channel_with_policy, consume, order_with_lines


@pytest.fixture(autouse=True)
def no_render(monkeypatch):
    """Rendering is tested in test_render.py; here only what is issued."""
    monkeypatch.setattr(issue, "_schedule_render", lambda document_id: None)


def _lines(document):
    return [(line.sku, line.quantity) for line in document.lines.order_by("position")]


def test_shipping_invoices_what_shipped_and_a_second_shipment_only_the_rest(entity):
    order = order_with_lines(lines=[("A", "10.00", "20.0", 3), ("B", "5.50", "5.5", 2)])
    consume(order, quantities={"A": 2})
    order_mark_partially_shipped(order=order)

    first = Invoice.objects.get()
    assert _lines(first) == [("A", 2)]
    assert first.total_incl_vat == Decimal("20.00")

    consume(order)  # the rest leaves with a second parcel
    order_mark_shipped(order=order)

    second = Invoice.objects.exclude(pk=first.pk).get()
    assert _lines(second) == [("A", 1), ("B", 2)]
    assert second.total_incl_vat == Decimal("21.00")
    assert second.sequence_number == first.sequence_number + 1
    # Delivered afterwards: nothing left, nothing new.
    order_mark_delivered(order=order)
    assert Invoice.objects.count() == 2
    assert events_of(order, "invoice.issued").count() == 2


@pytest.mark.parametrize("policy", ["shipped", "delivered"])
def test_a_move_after_every_unit_was_invoiced_is_answered_in_one_statement(
    entity, policy, django_assert_num_queries
):
    # given: every unit invoiced (at shipping, or at delivery under "when delivered")
    order = order_with_lines(channel=channel_with_policy(policy))
    consume(order)
    order_mark_shipped(order=order)
    if policy == "delivered":
        order_mark_delivered(order=order)
    assert Invoice.objects.count() == 1
    # when: the invoicing consumer hears of the move to delivered (a tracking cycle delivers thousands)
    with django_assert_num_queries(1):  # what the lines still owe; neither the billing nor the order's lock
        assert issue.on_order_event_for(order_id=order.pk, event="delivered") is None
    # then: nothing new
    assert Invoice.objects.count() == 1


def test_nothing_shipped_nothing_invoiced(entity):
    order = order_with_lines()
    order_mark_partially_shipped(order=order)
    assert Invoice.objects.count() == 0


def test_placed_policy_invoices_every_unit_when_the_order_is_created(entity):
    channel = channel_with_policy("placed")
    order = order_with_lines(channel=channel)
    with transaction.atomic():  # the intake's event, handled by the consumers once it "commits"
        event_add(order=order, code="order.created", source="test")
    invoice = Invoice.objects.get()
    assert _lines(invoice) == [("TSHIRT-M", 2), ("CAFE-1KG", 1)]
    # Shipping later adds nothing.
    consume(order)
    order_mark_shipped(order=order)
    assert Invoice.objects.count() == 1


def test_delivered_policy_waits_for_delivery(entity):
    channel = channel_with_policy("delivered")
    order = order_with_lines(channel=channel)
    consume(order)
    order_mark_shipped(order=order)
    assert Invoice.objects.count() == 0
    order_mark_delivered(order=order)
    assert _lines(Invoice.objects.get()) == [("TSHIRT-M", 2), ("CAFE-1KG", 1)]


def test_the_channel_entity_invoices_with_its_own_series(entity):
    other = LegalEntity.objects.create(
        **{
            **{f.name: getattr(entity, f.name) for f in LegalEntity._meta.concrete_fields if f.name != "id"},
            "name": "Autre SAS",
            "siret": "73282932099999",
            "is_default": False,
            "invoice_prefix": "FB",
            "credit_note_prefix": "AB",
        }
    )
    channel = channel_with_policy("shipped", entity=other)
    order = order_with_lines(channel=channel)
    consume(order)
    order_mark_shipped(order=order)
    invoice = Invoice.objects.get()
    assert invoice.legal_entity == other
    assert invoice.number.startswith("FB-") and invoice.number.endswith("-000001")
    assert invoice.seller["name"] == "Autre SAS"


def test_without_a_legal_entity_the_shipment_goes_on_and_the_timeline_says_why(db):
    order = order_with_lines()
    consume(order)
    order_mark_shipped(order=order)
    assert Invoice.objects.count() == 0
    order.refresh_from_db()
    assert order.status == "shipped"
    assert events_of(order, "invoice.not_issued").exists()


def test_b2b_invoice_carries_the_buyer_identifiers_and_the_purchase_order(entity):
    customer = b2b_customer()
    order = order_with_lines(customer=customer, purchase_order="PO-7781")
    consume(order)
    order_mark_shipped(order=order)
    invoice = Invoice.objects.get()
    assert invoice.is_b2b
    assert invoice.purchase_order == "PO-7781"
    assert invoice.buyer["vat_number"] == "FR40552100554"
    assert invoice.buyer["name"] == "Maison Dupont SARL"
    assert invoice.buyer["address"]["line1"] == "8 avenue Foch"  # the billing address, not the delivery one
    assert invoice.buyer["delivery_differs"] is True


def test_later_changes_of_customer_or_seller_never_change_an_issued_invoice(entity):
    order = order_with_lines()
    consume(order)
    order_mark_shipped(order=order)
    invoice = Invoice.objects.get()
    before = (invoice.seller, invoice.buyer, invoice.buyer_name)

    entity.name = "Nouveau Nom SAS"
    entity.save()
    customer = order.customer
    customer.first_name = "Changé"
    customer.save()
    Address.objects.create(
        customer=customer, kind="billing", line1="1 rue Neuve", postcode="75001", city="Paris"
    )

    invoice.refresh_from_db()
    assert (invoice.seller, invoice.buyer, invoice.buyer_name) == before


def test_an_issued_invoice_refuses_changes_and_deletion(entity):
    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    invoice.total_incl_vat = Decimal("1.00")
    with pytest.raises(ImmutableDocument):
        invoice.save()
    with pytest.raises(ImmutableDocument):
        invoice.save(update_fields=["total_incl_vat"])
    with pytest.raises(ImmutableDocument):
        invoice.delete()
    with pytest.raises(ImmutableDocument):
        Invoice.objects.filter(pk=invoice.pk).delete()
    with pytest.raises(ImmutableDocument):
        Invoice.objects.filter(pk=invoice.pk).update(buyer_name="X")
    line = invoice.lines.get()
    with pytest.raises(ImmutableDocument):
        line.save()
    with pytest.raises(ImmutableDocument):
        line.delete()
    # The rendering state may change.
    Invoice.objects.filter(pk=invoice.pk).update(status="issued")


@pytest.mark.postgres
def test_the_database_refuses_changes_behind_the_models_back(entity):
    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    for sql in (
        "UPDATE invoicing_invoice SET total_incl_vat = 1, total_excl_vat = 1, total_vat = 0 WHERE id = %s",
        "DELETE FROM invoicing_invoiceline WHERE document_id = %s",
        "DELETE FROM invoicing_invoice WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [invoice.pk])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE invoicing_invoice SET status = 'issued' WHERE id = %s", [invoice.pk])
    invoice.refresh_from_db()
    assert invoice.total_incl_vat == Decimal("10.00")


def test_credit_note_for_part_of_an_invoice_then_the_rest(entity):
    order = order_with_lines(lines=[("A", "10.00", "20.0", 3), ("B", "5.50", "5.5", 2)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    line_a, line_b = invoice.lines.order_by("position")

    partial = credit_note_issue(invoice=invoice, quantities={line_a.pk: 1}, reason="Retour d'un article")
    assert partial.kind == "credit_note" and partial.corrects == invoice
    assert partial.number.startswith("AV-") and partial.number.endswith("-000001")
    assert _lines(partial) == [("A", 1)]
    assert partial.total_incl_vat == Decimal("10.00")
    assert partial.reason == "Retour d'un article"

    with pytest.raises(CreditExceedsInvoice):
        credit_note_issue(invoice=invoice, quantities={line_a.pk: 3})
    assert CreditNote.objects.count() == 1

    rest = credit_note_issue(invoice=invoice, reason="Annulation")
    assert _lines(rest) == [("A", 2), ("B", 2)]
    assert partial.total_incl_vat + rest.total_incl_vat == invoice.total_incl_vat
    with pytest.raises(NothingToCredit):
        credit_note_issue(invoice=invoice)


def test_a_whole_credit_note_repeats_the_invoice_amounts_exactly(entity):
    order = order_with_lines(
        lines=[("A", "0.10", "20.0", 1), ("B", "0.10", "20.0", 1), ("C", "0.10", "20.0", 1)]
    )
    invoice = invoice_issue_for_order(order=order, scope="all")
    note = credit_note_issue(invoice=invoice, reason="Erreur")
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat, note.vat_breakdown) == (
        invoice.total_excl_vat,
        invoice.total_vat,
        invoice.total_incl_vat,
        invoice.vat_breakdown,
    )


def test_shipping_lines_follow_include_shipping(entity):
    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    line = order.lines.get()
    # Orders carry no shipping charge yet: an invoice with a shipping line, through the internal helper.
    invoice = issue._document_create(
        kind="invoice",
        legal_entity=entity,
        order=order,
        delivery_date=order.created_at.date(),
        lines=[
            issue.DraftLine(
                "Produit A", 1, Decimal("10.00"), Decimal("20.0"), sku="A", order_line_id=line.pk
            ),
            issue.DraftLine("Livraison", 1, Decimal("4.90"), Decimal("20.0"), kind="shipping"),
        ],
    )
    product_line = invoice.lines.get(position=1)
    without = credit_note_issue(invoice=invoice, quantities={product_line.pk: 1}, include_shipping=False)
    assert [line.kind for line in without.lines.all()] == ["product"]
    shipping = credit_note_issue(invoice=invoice, quantities={}, include_shipping=True)
    assert [line.kind for line in shipping.lines.all()] == ["shipping"]
    assert shipping.total_incl_vat == Decimal("4.90")


def test_a_cancelled_order_invoiced_when_placed_is_credited(entity, warehouse):
    channel = channel_with_policy("placed")
    order = order_with_lines(channel=channel, lines=[("A", "10.00", "20.0", 1)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    order.status = "allocated"
    type(order).objects.filter(pk=order.pk).update(status="allocated")
    from inventory.models import StockLevel

    StockLevel.objects.create(
        product=order.lines.get().product,
        location=order.lines.get().allocations.get().location,
        on_hand=1,
        reserved=1,
    )
    order_cancel(order=order, reason="client")
    note = CreditNote.objects.get()
    assert note.corrects == invoice
    assert note.total_incl_vat == invoice.total_incl_vat


def test_channel_billing_default_is_shipped(entity):
    order = order_with_lines()
    assert not ChannelBilling.objects.exists()
    assert issue.billing_for_channel(channel_id=order.channel_id) == (entity, "shipped")


def test_billing_for_order_is_billing_for_channel_in_one_statement(entity, django_assert_num_queries):
    # no billing row: the default entity, "when shipped"
    order = order_with_lines()
    with django_assert_num_queries(1):
        assert issue.billing_for_order(order_id=order.pk) == (entity, "shipped")
    # a policy without an entity: the default entity, the channel's policy
    placed = order_with_lines(channel=channel_with_policy("placed", code="b2b"))
    with django_assert_num_queries(1):
        assert issue.billing_for_order(order_id=placed.pk) == (entity, "placed")
    # the channel's own entity comes before the default one
    from tests.invoicing.factories import LegalEntityFactory

    other = LegalEntityFactory(name="Autre", is_default=False)
    own = order_with_lines(channel=channel_with_policy("delivered", code="own", entity=other))
    with django_assert_num_queries(1):
        assert issue.billing_for_order(order_id=own.pk) == (other, "delivered")
    for o in (order, placed, own):
        assert issue.billing_for_order(order_id=o.pk) == issue.billing_for_channel(channel_id=o.channel_id)


def test_billing_for_order_without_any_entity_still_gives_the_policy(db):
    order = order_with_lines(channel=channel_with_policy("placed", code="b2b"))
    assert issue.billing_for_order(order_id=order.pk) == (None, "placed")
    same = issue.billing_for_channel(channel_id=order.channel_id)
    assert issue.billing_for_order(order_id=order.pk) == same
    plain = order_with_lines(channel=None)
    assert issue.billing_for_order(order_id=plain.pk) == (None, "shipped")
