"""The accountant's FEC (fichier des écritures comptables, article A47 A-1 of the Livre des procédures
fiscales) of a seller over a period: its invoices and credit notes (sales journal) and the payments recorded
on them (bank journal).

One line per entry line, the 18 columns in the legal order, tab separated, dates ``YYYYMMDD``, amounts with
a decimal comma, UTF-8; the file is named ``<SIREN>FEC<closing date YYYYMMDD>.txt``. Each entry is balanced:

- invoice: debit the customer (receivable, with the customer as auxiliary account) by the total incl. VAT;
  credit the sales accounts (goods, services, shipping of the seller's chart of accounts) by the lines'
  amounts excl. VAT and the VAT account of each rate by the rate's VAT;
- credit note: the same, the other way round;
- payment: debit the bank, credit the customer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from ..models import ChartOfAccounts, Invoice, InvoiceLine, LegalEntity, Nature, Payment

COLUMNS = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
]
ZERO = Decimal("0.00")
ACCOUNT_NAMES = {
    "customers": "Clients",
    "goods": "Ventes de marchandises",
    "services": "Prestations de services",
    "shipping": "Ports et frais accessoires facturés",
    "bank": "Banque",
}


def chart_of(entity: LegalEntity) -> ChartOfAccounts:
    chart, _created = ChartOfAccounts.objects.get_or_create(legal_entity=entity)
    return chart


def fec_filename(entity: LegalEntity, closing: dt.date) -> str:
    return f"{entity.siren}FEC{closing:%Y%m%d}.txt"


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _clean(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


def _document_entry(
    doc: Invoice, chart: ChartOfAccounts
) -> list[tuple[str, str, str, str, Decimal, Decimal]]:
    """(account, account name, aux number, aux name, debit, credit) of a document, balanced."""
    sales: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in doc.lines.all():
        if line.kind == InvoiceLine.Kind.SHIPPING:
            key = "shipping"
        else:
            key = "services" if line.nature == Nature.SERVICES else "goods"
        sales[key] += line.total_excl_vat
    for allowance in doc.allowances or ():  # taken off the sales of its nature (BG-20)
        sales["services" if allowance.get("nature") == Nature.SERVICES else "goods"] -= Decimal(
            allowance["base"]
        )
    customer = (f"C{doc.customer_id:06d}", doc.buyer_name)
    rows = [(chart.customers, ACCOUNT_NAMES["customers"], *customer, doc.total_incl_vat, ZERO)]
    for key in ("goods", "services", "shipping"):
        if sales.get(key, ZERO) > 0:
            rows.append((getattr(chart, key), ACCOUNT_NAMES[key], "", "", ZERO, sales[key]))
        elif sales.get(key, ZERO) < 0:  # an allowance beyond the lines of its nature: the other side
            rows.append((getattr(chart, key), ACCOUNT_NAMES[key], "", "", -sales[key], ZERO))
    for rate in doc.vat_breakdown:
        vat = Decimal(rate["vat"])
        if vat:
            rows.append(
                (chart.vat_account(rate["rate"]), f"TVA collectée {rate['rate']} %", "", "", ZERO, vat)
            )
    if doc.is_credit_note:
        rows = [(a, n, x, xn, credit, debit) for a, n, x, xn, debit, credit in rows]
    return rows


def fec_rows(*, entity: LegalEntity, date_from: dt.date, date_to: dt.date, progress=None) -> list[list[str]]:
    chart = chart_of(entity)
    documents = (
        Invoice.objects.filter(legal_entity=entity, issue_date__gte=date_from, issue_date__lte=date_to)
        .prefetch_related("lines")
        .order_by("issue_date", "pk")
    )
    payments = (
        Payment.objects.filter(document__legal_entity=entity, paid_on__gte=date_from, paid_on__lte=date_to)
        .select_related("document")
        .order_by("paid_on", "pk")
    )
    entries = []
    for index, doc in enumerate(documents.iterator(chunk_size=200), start=1):
        label = f"{'Avoir' if doc.is_credit_note else 'Facture'} {doc.number} {doc.buyer_name}"
        entries.append(
            (
                doc.issue_date,
                0,
                doc.pk,
                chart.sales_journal,
                "Ventes",
                doc.number,
                label,
                _document_entry(doc, chart),
            )
        )
        if progress and index % 50 == 0:
            progress(index)
    for payment in payments:
        doc = payment.document
        customer = (f"C{doc.customer_id:06d}", doc.buyer_name)
        rows = [
            (chart.bank, ACCOUNT_NAMES["bank"], "", "", payment.amount, ZERO),
            (chart.customers, ACCOUNT_NAMES["customers"], *customer, ZERO, payment.amount),
        ]
        label = f"Règlement {doc.number} {payment.get_method_display()} {payment.reference}".strip()
        piece = payment.reference or f"REG-{payment.pk}"
        entries.append((payment.paid_on, 1, payment.pk, chart.bank_journal, "Banque", piece, label, rows))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    numbers: dict[str, int] = defaultdict(int)
    out = []
    for day, _order, _pk, journal, journal_label, piece, label, rows in entries:
        numbers[journal] += 1
        number = f"{journal}{numbers[journal]:06d}"
        for account, account_name, aux, aux_name, debit, credit in rows:
            out.append(
                [
                    journal,
                    journal_label,
                    number,
                    _date(day),
                    account,
                    account_name,
                    aux,
                    _clean(aux_name),
                    _clean(piece),
                    _date(day),
                    _clean(label),
                    _amount(debit),
                    _amount(credit),
                    "",
                    "",
                    _date(day),
                    "",
                    "",
                ]
            )
    return out


def fec_content(rows: list[list[str]]) -> bytes:
    lines = ["\t".join(COLUMNS), *("\t".join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def fec_count(*, entity: LegalEntity, date_from: dt.date, date_to: dt.date) -> int:
    return Invoice.objects.filter(
        legal_entity=entity, issue_date__gte=date_from, issue_date__lte=date_to
    ).count()
