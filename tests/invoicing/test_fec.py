"""The accountant's FEC: 18 columns, balanced entries, the chart of accounts of the seller; the test
recomputes the balance from the file."""

from collections import defaultdict
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import Product
from invoicing.models import ChartOfAccounts, InvoiceExport
from invoicing.services.fec import COLUMNS
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order
from invoicing.services.payments import payment_record
from tests.invoicing.factories import b2b_customer, consume, order_with_lines
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _num(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def test_fec_export_is_balanced_and_recomputes(entity, client, manager, django_capture_on_commit_callbacks):
    ChartOfAccounts.objects.create(legal_entity=entity, goods="707100", customers="411100")
    capture = django_capture_on_commit_callbacks
    orders = [
        order_with_lines(customer=CustomerFactory(email="ana@example.fr")),
        order_with_lines(
            customer=b2b_customer(), lines=[("MONTAGE", "60.00", "20.0", 1), ("CAFE-1KG", "14.50", "5.5", 2)]
        ),
    ]
    Product.objects.filter(sku="MONTAGE").update(nature="services")
    invoices = []
    for order in orders:
        consume(order)
        with capture(execute=True):
            invoices.append(invoice_issue_for_order(order=order, scope="shipped"))
    with capture(execute=True):
        note = credit_note_issue(invoice=invoices[0], reason="Geste commercial")
    payment_record(
        document=invoices[1],
        paid_on=invoices[1].issue_date,
        amount=Decimal("50.00"),
        method="transfer",
        reference="VIR-1",
    )

    # when the accountant exports the FEC of the period
    client.force_login(manager)
    today = invoices[0].issue_date
    with capture(execute=True):
        response = client.post(
            reverse("invoicing:export_create"),
            {
                "kind": "fec",
                "date_from": today.replace(day=1).isoformat(),
                "date_to": today.isoformat(),
                "legal_entity": entity.pk,
            },
        )
    export = InvoiceExport.objects.get()
    assert response.status_code == 302 and export.status == "done" and export.kind == "fec"
    progress = client.get(
        reverse("invoicing:export_detail", args=[export.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert b"Download the FEC" in progress.content
    download = client.get(reverse("invoicing:export_download", args=[export.pk, "fec"]))
    assert download["Content-Disposition"].endswith(f'filename="732829320FEC{today:%Y%m%d}.txt"')
    content = b"".join(download.streaming_content).decode("utf-8")

    # then: the 18 columns, one line per entry line, every entry balanced
    lines = content.split("\r\n")[:-1]
    assert lines[0].split("\t") == COLUMNS and len(COLUMNS) == 18
    rows = [dict(zip(COLUMNS, line.split("\t"), strict=True)) for line in lines[1:]]
    per_entry = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        per_entry[row["EcritureNum"]][0] += _num(row["Debit"])
        per_entry[row["EcritureNum"]][1] += _num(row["Credit"])
        assert row["EcritureDate"] == f"{today:%Y%m%d}" and row["ValidDate"] == row["EcritureDate"]
    assert sorted(per_entry) == ["BQ000001", "VE000001", "VE000002", "VE000003"]
    for number, (debit, credit) in per_entry.items():
        assert debit == credit, number

    # and the balance of each account recomputes from the documents
    balance = defaultdict(Decimal)
    for row in rows:
        balance[row["CompteNum"]] += _num(row["Debit"]) - _num(row["Credit"])
    total_invoiced = sum(i.total_incl_vat for i in invoices)
    assert balance["411100"] == total_invoiced - note.total_incl_vat - Decimal("50.00")
    assert balance["512000"] == Decimal("50.00")
    assert balance["706000"] == -invoices[1].lines.get(sku="MONTAGE").total_excl_vat
    assert balance["707100"] == -(
        invoices[1].lines.get(sku="CAFE-1KG").total_excl_vat
    )  # first invoice credited
    vat = sum(Decimal(r["vat"]) for r in invoices[1].vat_breakdown)
    assert balance["445712"] + balance["445713"] == -vat
    assert sum(balance.values()) == 0
    customer_rows = [r for r in rows if r["CompteNum"] == "411100"]
    assert {r["CompAuxNum"] for r in customer_rows} == {
        f"C{invoices[0].customer_id:06d}",
        f"C{invoices[1].customer_id:06d}",
    }
    assert all(r["PieceRef"] for r in rows) and any(r["PieceRef"] == "VIR-1" for r in rows)


def test_fec_export_needs_a_seller(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("invoicing:export_create"),
        {"kind": "fec", "date_from": "2026-10-01", "date_to": "2026-10-31"},
    )
    assert response.status_code == 400 and not InvoiceExport.objects.exists()
