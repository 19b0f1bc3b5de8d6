"""The rendered documents: Factur-X EN16931 PDFs whose text carries every mandatory mention."""

import io
from decimal import Decimal

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from invoicing.models import Invoice
from invoicing.services.cii import build_cii
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order
from invoicing.services.render import document_render
from tests.invoicing.factories import b2b_customer, consume, order_with_lines
from tests.orders.factories import CustomerFactory


def _issue(order, capture):
    consume(order)
    with capture(execute=True):
        return invoice_issue_for_order(order=order, scope="shipped")


def _pdf_text(document) -> str:
    document.refresh_from_db()
    assert document.status == "issued", document.render_error
    with document.pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _pdf_bytes(document) -> bytes:
    with document.pdf.open("rb") as handle:
        return handle.read()


SELLER_MENTIONS = [
    "Maison Exemple",  # name
    "SAS",  # legal form
    "50,000.00",  # share capital (English formatting)
    "12 rue de la République",  # head office
    "69002 Lyon",
    "SIREN 732829320",
    "SIRET 73282932",
    "RCS Lyon 732829320",
    "FR44732829320",  # seller VAT number
]
COMMON_MENTIONS = [
    "Issue date",
    "Date of sale or delivery",
    "Unit price excl. VAT",
    "VAT rate",
    "Total excl. VAT",
    "Total VAT",
    "Total incl. VAT",
    "VAT amount",
    "No discount for early payment",
]


def test_b2c_invoice_has_every_mention(entity, django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="ana@example.fr", first_name="Ana", last_name="Roux", language="en")
    order = order_with_lines(customer=customer)
    invoice = _issue(order, django_capture_on_commit_callbacks)
    text = _pdf_text(invoice)

    for mention in [*SELLER_MENTIONS, *COMMON_MENTIONS]:
        assert mention in text, mention
    assert invoice.number in text
    assert "Invoice" in text
    assert "Ana Roux" in text and "3 rue X" in text and "69003 Lyon" in text  # buyer and address
    assert "Produit TSHIRT-M" in text and "Produit CAFE-1KG" in text  # descriptions
    assert "20%" in text and "5.5%" in text  # rates
    assert "€6.63" in text and "€0.76" in text  # VAT per rate
    assert "€46.91" in text and "€7.39" in text and "€54.30" in text  # totals
    assert "Payment due by" in text
    assert "IBAN FR7630006000011234567890189" in text
    assert "legal guarantee of conformity" in text  # B2C mention
    assert "€40" not in text and "Late payment" not in text  # no B2B mentions


def test_b2b_invoice_has_the_b2b_mentions(entity, django_capture_on_commit_callbacks):
    customer = b2b_customer(language="en")
    order = order_with_lines(customer=customer, purchase_order="PO-7781")
    invoice = _issue(order, django_capture_on_commit_callbacks)
    text = _pdf_text(invoice)

    for mention in [*SELLER_MENTIONS, *COMMON_MENTIONS]:
        assert mention in text, mention
    assert "Maison Dupont SARL" in text
    assert "FR40552100554" in text  # buyer's VAT number
    assert "SIREN 552100554" in text
    assert "PO-7781" in text  # purchase order
    assert "Late payment: penalties at the annual rate of 12%" in text
    assert "fixed indemnity of €40 for recovery costs" in text
    assert "8 avenue Foch" in text  # billing address
    assert "DELIVERED TO" in text and "3 rue X" in text  # delivery address, different (h2 in capitals)


def test_credit_note_refers_to_the_invoice_and_is_type_381(entity, django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="en@example.fr", language="en")
    order = order_with_lines(customer=customer, lines=[("A", "10.00", "20.0", 2)])
    invoice = _issue(order, django_capture_on_commit_callbacks)
    line = invoice.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_issue(invoice=invoice, quantities={line.pk: 1}, reason="Return of one item")
    text = _pdf_text(note)

    for mention in [*SELLER_MENTIONS, *COMMON_MENTIONS]:
        assert mention in text, mention
    assert "Credit note" in text and note.number in text
    invoice.refresh_from_db()
    assert f"Credit note for invoice {invoice.number} of {invoice.issue_date:%m/%d/%Y}" in text
    assert "Return of one item" in text
    assert "€10.00" in text

    xml = facturx.get_xml_from_pdf(_pdf_bytes(note), check_xsd=True)[1]
    root = etree.fromstring(xml)
    ns = {
        "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    }
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=ns) == "381"
    reference = root.find(".//ram:InvoiceReferencedDocument", namespaces=ns)
    assert reference.findtext("ram:IssuerAssignedID", namespaces=ns) == invoice.number  # BT-25
    assert reference.findtext("ram:FormattedIssueDateTime/qdt:DateTimeString", namespaces=ns) == (
        invoice.issue_date.strftime("%Y%m%d")  # BT-26
    )


def test_embedded_xml_is_en16931_and_matches_the_document(entity, django_capture_on_commit_callbacks):
    customer = b2b_customer(language="fr")
    order = order_with_lines(customer=customer, purchase_order="PO-1")
    invoice = _issue(order, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    pdf = _pdf_bytes(invoice)

    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # raises if invalid
    root = etree.fromstring(xml)
    assert facturx.get_level(root) == "en16931"
    assert facturx.get_flavor(root) == "factur-x"
    assert xml == _stored_xml(invoice)
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    assert root.findtext(".//ram:GrandTotalAmount", namespaces=ns) == "54.30"
    assert root.findtext(".//ram:TaxBasisTotalAmount", namespaces=ns) == "46.91"
    assert root.findtext(".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=ns) == (
        "FR40552100554"
    )
    assert [
        e.text
        for e in root.findall(
            ".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount",
            namespaces=ns,
        )
    ] == ["6.63", "0.76"]
    # PDF/A-3b with the Factur-X XMP metadata.
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "pdfaid:part>3<" in xmp or 'pdfaid:part="3"' in xmp
    assert "EN 16931" in xmp
    # One PDF, its header first (factur-x's generate_from_binary left WeasyPrint's PDF in front of its own).
    assert pdf.startswith(b"%PDF-1.") and pdf.count(b"%PDF-") == 1 and pdf.count(b"%%EOF") == 1
    assert reader.trailer["/Root"]["/AF"] and len(reader.pages) == 1


def _stored_xml(document) -> bytes:
    with document.xml.open("rb") as handle:
        return handle.read()


def test_rendering_is_idempotent(entity, django_capture_on_commit_callbacks):
    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    invoice = _issue(order, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    first = (invoice.pdf.name, invoice.rendered_at)
    again = document_render(document_id=invoice.pk)
    assert (again.pdf.name, again.rendered_at) == first


def test_an_invalid_xml_is_not_kept(entity, django_capture_on_commit_callbacks, monkeypatch):
    from invoicing.services import render

    monkeypatch.setattr(render, "build_cii", lambda document: b"<not-an-invoice/>")
    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    consume(order)
    invoice = invoice_issue_for_order(order=order, scope="shipped")
    with pytest.raises(Exception):  # noqa: B017 - factur-x raises its own errors
        document_render(document_id=invoice.pk)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == "failed"
    assert invoice.render_error
    assert not invoice.pdf and not invoice.xml


def test_cii_amounts_are_the_documents(entity):
    order = order_with_lines(lines=[("A", "0.10", "20.0", 3)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    xml = build_cii(invoice)
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:CalculatedAmount>0.05</ram:CalculatedAmount>" in xml
    assert invoice.total_vat == Decimal("0.05")


def test_a_render_held_by_another_worker_is_left_to_it(entity):
    from common import jobs
    from invoicing.jobs import RENDER

    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    assert invoice.job_due_at is not None  # the rendering is a job: swept if its message is lost
    with jobs.claim(RENDER, invoice.pk) as job:
        assert job is not None
        again = document_render(document_id=invoice.pk)  # a duplicate message meanwhile
        assert (again.status, again.pdf.name) == ("pending", "")
    document = document_render(document_id=invoice.pk)
    assert document.status == "issued" and document.pdf
    document.refresh_from_db()
    assert (document.job_due_at, document.job_lease_until) == (None, None)


def test_a_passing_storage_error_leaves_the_document_pending_for_a_retry(entity, monkeypatch):
    from invoicing.services import render

    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    monkeypatch.setattr(
        render, "render_pdf", lambda document, xml: (_ for _ in ()).throw(OSError("disk full"))
    )
    with pytest.raises(OSError):
        document_render(document_id=invoice.pk)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == "pending" and invoice.render_error == "OSError: disk full"
    assert invoice.job_due_at is not None and invoice.job_lease_until is None
    monkeypatch.undo()
    assert document_render(document_id=invoice.pk).status == "issued"


def test_render_again_restarts_a_failed_document_only(
    entity, django_capture_on_commit_callbacks, monkeypatch
):
    from invoicing.services import render

    order = order_with_lines(lines=[("A", "10.00", "20.0", 1)])
    invoice = invoice_issue_for_order(order=order, scope="all")
    monkeypatch.setattr(render, "build_cii", lambda document: b"<not-an-invoice/>")
    with pytest.raises(Exception):  # noqa: B017 - factur-x raises its own errors
        document_render(document_id=invoice.pk)
    monkeypatch.undo()
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == "failed" and invoice.job_due_at is None  # final: not retried by the sweep

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert render.document_render_again(document=invoice) is True
    assert len(callbacks) == 1
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == "issued" and invoice.render_error == ""
    assert render.document_render_again(document=invoice) is False


def test_documents_rendered_in_a_row_each_say_their_own(entity, django_capture_on_commit_callbacks):
    """The stylesheet, the fonts and the parser's caches are kept per process: nothing of one document may
    reach the next (another buyer, language, kind), and a document rendered again reads the same."""
    from invoicing.services.render import render_pdf

    b2c = _issue(
        order_with_lines(customer=CustomerFactory(first_name="Zoé", last_name="Perrin", language="en")),
        django_capture_on_commit_callbacks,
    )
    b2b = _issue(order_with_lines(customer=b2b_customer(language="fr")), django_capture_on_commit_callbacks)
    first, second = _pdf_text(b2c), _pdf_text(b2b)

    assert "Zoé Perrin" in first and "Invoice" in first and "legal guarantee of conformity" in first
    assert "Maison Dupont SARL" not in first and "Facture" not in first
    assert "Maison Dupont SARL" in second and "Facture" in second and "40 €" in second
    assert "Zoé Perrin" not in second and "Invoice" not in second and "legal guarantee" not in second

    again = render_pdf(b2c, build_cii(b2c))
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(again)).pages)
    assert text == first


def test_the_html_parsers_filled_regexes_read_as_its_own():
    """render._html_parser_regexes fills tinyhtml5's regex cache with the patterns it would build itself:
    every filled key reads a text up to the same character as an empty cache does."""
    from tinyhtml5 import inputstream

    from invoicing.services import render

    texts = ["", "abc", "  \tx<y", "a&b<c", "Ab<-c", 'v"x&', "v'x&y", "\u0000z", "ÉtéA b", "é"]
    saved = dict(inputstream.characters_until_regex)
    try:
        inputstream.characters_until_regex.clear()
        render._html_parser_regexes()
        filled = {k: v for k, v in inputstream.characters_until_regex.items() if not hasattr(k[0], "pattern")}
        assert len(filled) >= 5
        for characters, opposite in filled:
            for text in texts:
                reads = []
                for empty in (False, True):
                    if empty:
                        inputstream.characters_until_regex.clear()
                    stream = inputstream.HTMLUnicodeInputStream(text + "<")
                    reads.append(stream.chars_until(characters, opposite))
                    inputstream.characters_until_regex.update(filled)
                assert reads[0] == reads[1], (characters, opposite, text)
    finally:
        inputstream.characters_until_regex.clear()
        inputstream.characters_until_regex.update(saved)
