"""Units credited after a goodwill refund: the credit note takes the amount already credited off its totals as
a document-level allowance (EN 16931 BG-20), so an invoice is never credited more than it charged, rate by
rate, and the documents stay valid (XSD, EN 16931 and French CTC schematrons), readable (PDF, staff page)
and booked right (FEC, e-reporting)."""

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from invoicing.amounts import LineIn, apply_allowances, compute
from invoicing.exceptions import NothingToCredit
from invoicing.models import CreditNote, EReport, InvoiceLine
from invoicing.services.cii import build_cii
from invoicing.services.ereporting import ereport_generate
from invoicing.services.fec import COLUMNS, fec_rows
from invoicing.services.issue import (
    amount_room_by_rate,
    credit_note_for_amount,
    credit_note_issue,
    invoice_issue_for_order,
)
from invoicing.services.ubl import build_ubl
from invoicing.services.validation import check_xsd, schematron_errors
from tests.invoicing.factories import consume, order_with_lines
from tests.orders.factories import CustomerFactory

CENT = Decimal("0.01")
MIXED = [("TSHIRT-M", "19.90", "20.0", 2), ("CAFE-1KG", "14.50", "5.5", 2)]  # 39.80 at 20 %, 29.00 at 5.5 %


def _valid(xml: bytes) -> None:
    check_xsd(xml)
    fatal = [
        f"{e['id']}: {e['text'][:160]}" for e in schematron_errors(xml) if e["flag"] in ("", "fatal", "error")
    ]
    assert fatal == []


def _per_rate(documents) -> dict:
    """Gross, base and VAT per rate: invoices positive, credit notes negative."""
    out = defaultdict(lambda: [Decimal("0.00")] * 3)
    for doc in documents:
        sign = -1 if doc.is_credit_note else 1
        for rate in doc.vat_breakdown:
            figures = out[Decimal(rate["rate"])]
            for index, key in enumerate(("gross", "base", "vat")):
                figures[index] += sign * Decimal(rate[key])
    return dict(out)


def _invoiced(capture, *, language="fr", lines=MIXED):
    order = order_with_lines(customer=CustomerFactory(language=language), lines=lines)
    consume(order)
    with capture(execute=True):
        return invoice_issue_for_order(order=order, scope="shipped")


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=50_000),  # unit price in cents
            st.integers(min_value=1, max_value=9),
            st.sampled_from(["20.0", "10.0", "5.5", "2.1", "0.0"]),
        ),
        min_size=1,
        max_size=6,
    ),
    share=st.fractions(min_value=0, max_value=1),
)
def test_an_allowance_keeps_every_rate_equal_to_its_lines_less_its_allowance(lines, share):
    amounts = compute([LineIn(Decimal(cents) / 100, qty, Decimal(rate)) for cents, qty, rate in lines])
    wanted = {
        rate.rate: (rate.gross * Decimal(share.numerator) / Decimal(share.denominator)).quantize(CENT)
        for rate in amounts.rates
    }
    before = {rate.rate: rate for rate in amounts.rates}
    taken = apply_allowances(amounts, wanted, reason="x")
    by_rate = {allowance.rate: allowance for allowance in taken}
    for rate in amounts.rates:
        allowance = by_rate.get(rate.rate)
        base_off = allowance.base if allowance else 0
        lines_net = sum(
            (line.total_excl_vat for line in amounts.lines if line.vat_rate == rate.rate), Decimal(0)
        )
        # BR-S-8 / BR-CO: a rate's taxable amount is its lines' net amounts less its allowances, exactly
        assert rate.base == lines_net - base_off
        # its VAT is the rate applied to that base, within EN 16931's cent
        assert abs(rate.base * rate.rate / 100 - rate.vat) <= CENT
        assert rate.gross == before[rate.rate].gross - wanted[rate.rate]
        if allowance:
            assert allowance.base + allowance.vat == allowance.gross == wanted[rate.rate]
    assert amounts.total_incl_vat == amounts.total_excl_vat + amounts.total_vat
    assert amounts.total_incl_vat == sum(before[r].gross for r in before) - sum(wanted.values())


def test_an_allowance_beyond_its_rate_or_at_a_rate_without_lines_is_refused():
    amounts = compute([LineIn(Decimal("10.00"), 1, Decimal("20.0"))])
    with pytest.raises(ValueError):
        apply_allowances(amounts, {Decimal("20.0"): Decimal("10.01")}, reason="x")
    amounts = compute([LineIn(Decimal("10.00"), 1, Decimal("20.0"))])
    with pytest.raises(ValueError):
        apply_allowances(amounts, {Decimal("5.5"): Decimal("1.00")}, reason="x")


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["facturx", "ubl"])
def test_a_whole_credit_note_after_a_gesture_credits_what_the_invoice_still_holds(
    entity, django_capture_on_commit_callbacks, fmt
):
    # given an invoice of 68.80 (39.80 at 20 %, 29.00 at 5.5 %) and a gesture of 6.88 split on both rates
    entity.einvoice_format = fmt
    entity.save()
    capture = django_capture_on_commit_callbacks
    invoice = _invoiced(capture)
    with capture(execute=True):
        gesture = credit_note_for_amount(invoice=invoice, amount=Decimal("6.88"), reason="Retard")
    assert gesture.total_incl_vat == Decimal("6.88") and gesture.allowances == []

    # when everything left is credited (the whole order comes back)
    with capture(execute=True):
        note = credit_note_issue(invoice=invoice, reason="Retour")

    # then the units are credited whole, and the gesture is taken off as an allowance at each rate
    assert sorted(note.lines.values_list("sku", "quantity")) == [("CAFE-1KG", 2), ("TSHIRT-M", 2)]
    assert note.total_incl_vat == Decimal("61.92")  # 68.80 - 6.88
    assert {Decimal(a["rate"]): Decimal(a["gross"]) for a in note.allowances} == {
        Decimal("20.0"): Decimal("3.98"),
        Decimal("5.5"): Decimal("2.90"),
    }
    assert all(a["reason"] == f"Geste commercial déjà crédité ({gesture.number})" for a in note.allowances)
    assert note.lines_total_excl_vat - note.allowance_total_excl_vat == note.total_excl_vat
    # every rate credited exactly as charged: gross, base and VAT
    figures = _per_rate([invoice, gesture, note])
    assert all(value == [0, 0, 0] for value in figures.values()), figures
    assert amount_room_by_rate(invoice=invoice) == {}
    with pytest.raises(NothingToCredit):
        credit_note_issue(invoice=invoice)

    # and both XML are valid and carry the allowance and the totals that add up
    cii, ubl = build_cii(note), build_ubl(note)
    _valid(cii)
    _valid(ubl)
    assert "<ram:AllowanceTotalAmount>" in cii.decode()
    assert "<cbc:AllowanceTotalAmount" in ubl.decode()
    assert cii.decode().count("<ram:SpecifiedTradeAllowanceCharge>") == 2

    # and the PDF shows the allowance (rendered after commit, with its Factur-X)
    note.refresh_from_db()
    assert note.status == "issued", note.render_error
    with note.pdf.open("rb") as handle:
        text = " ".join(
            " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(handle.read())).pages
        )
    assert f"Geste commercial déjà crédité ({gesture.number})" in text
    assert "Total des lignes HT" in text
    assert "61,92" in text


@pytest.mark.django_db
def test_a_partial_credit_that_fits_after_a_gesture_has_no_allowance(
    entity, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    invoice = _invoiced(capture)
    with capture(execute=True):
        credit_note_for_amount(invoice=invoice, amount=Decimal("6.88"), reason="Retard")
    line = invoice.lines.get(sku="TSHIRT-M")
    with capture(execute=True):
        note = credit_note_issue(invoice=invoice, quantities={line.pk: 1}, include_shipping=False)
    assert note.allowances == [] and note.total_incl_vat == Decimal("19.90")

    # the second T-shirt no longer fits at 20 % (39.80 - 3.98 - 19.90 = 15.92 left): 3.98 taken off
    with capture(execute=True):
        rest = credit_note_issue(invoice=invoice, quantities={line.pk: 1}, include_shipping=False)
    assert [(a["rate"], a["gross"]) for a in rest.allowances] == [("20.0", "3.98")]
    assert rest.total_incl_vat == Decimal("15.92")
    # the coffee at 5.5 % still holds what it held: 29.00 less its share of the gesture
    assert amount_room_by_rate(invoice=invoice) == {Decimal("5.5"): Decimal("26.10")}


@pytest.mark.django_db
def test_the_allowance_is_booked_in_the_fec_and_the_ereport(entity, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    invoice = _invoiced(capture)
    with capture(execute=True):
        credit_note_for_amount(invoice=invoice, amount=Decimal("6.88"), reason="Retard")
        note = credit_note_issue(invoice=invoice, reason="Retour")
    assert note.allowances

    # FEC: every entry balanced, and the sales of the order come back to zero
    rows = [
        dict(zip(COLUMNS, row, strict=True))
        for row in fec_rows(entity=entity, date_from=invoice.issue_date, date_to=invoice.issue_date)
    ]
    per_entry = defaultdict(Decimal)
    balance = defaultdict(Decimal)
    for row in rows:
        amount = Decimal(row["Debit"].replace(",", ".")) - Decimal(row["Credit"].replace(",", "."))
        per_entry[row["EcritureNum"]] += amount
        balance[row["CompteNum"]] += amount
    assert set(per_entry.values()) == {Decimal("0")}
    assert all(value == 0 for value in balance.values()), dict(balance)

    # e-reporting (B2C): the day's base and VAT per rate are what is left, i.e. nothing
    day = invoice.delivery_date
    report = ereport_generate(
        legal_entity=entity, kind="transactions", start=day, end=day, due=day + dt.timedelta(days=10)
    )
    assert EReport.objects.filter(pk=report.pk).exists()
    assert [(x.vat_rate, x.base, x.vat) for x in report.lines.all() if x.base or x.vat] == []


@pytest.mark.django_db
def test_the_staff_page_shows_the_allowance_in_english(
    entity, client, manager, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    invoice = _invoiced(capture, language="en")
    with capture(execute=True):
        gesture = credit_note_for_amount(invoice=invoice, amount=Decimal("6.88"), reason="Late")
        note = credit_note_issue(invoice=invoice, reason="Return")
    client.force_login(manager)
    page = client.get(reverse("invoicing:document_detail", args=[note.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Commercial gesture already credited ({gesture.number})" in text
    assert "−€3.98" in text and "€61.92" in text
    assert CreditNote.objects.filter(pk=note.pk, lines__kind=InvoiceLine.Kind.PRODUCT).exists()
