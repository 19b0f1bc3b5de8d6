"""The invoicing pages: list and filters, detail, files, re-send, credit notes, export, settings, portal."""

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook

from invoicing.models import ChannelBilling, DocumentDelivery, Invoice, InvoiceExport, LegalEntity
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order
from oms.roles import CUSTOMER_SERVICE, MANAGER
from tests.invoicing.factories import LegalEntityFactory, consume, order_with_lines
from tests.oms.factories import UserFactory
from tests.orders.factories import ChannelFactory, CustomerFactory

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def manager(db):
    return UserFactory(username="mgr", role=MANAGER)


@pytest.fixture
def service(db):
    return UserFactory(username="cs", role=CUSTOMER_SERVICE, locations=[])


@pytest.fixture
def rendered(entity, django_capture_on_commit_callbacks):
    """An invoice (rendered) and a credit note of it, for two orders of two customers."""
    customer = CustomerFactory(email="ana@example.fr", first_name="Ana", last_name="Roux", language="en")
    order = order_with_lines(customer=customer)
    consume(order)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue_for_order(order=order, scope="shipped")
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_issue(invoice=invoice, quantities={invoice.lines.first().pk: 1}, reason="Return")
    invoice.refresh_from_db()
    note.refresh_from_db()
    return invoice, note


def test_list_filters_and_search(client, service, rendered):
    invoice, note = rendered
    client.force_login(service)
    url = reverse("invoicing:document_list")
    html = client.get(url, **EN).content.decode()
    assert invoice.number in html and note.number in html
    html = client.get(url, {"kind": "credit_note"}, **EN).content.decode()
    invoice_link = reverse("invoicing:document_detail", args=[invoice.pk])
    assert reverse("invoicing:document_detail", args=[note.pk]) in html and invoice_link not in html
    html = client.get(url, {"q": "ana@"}, **EN).content.decode()
    assert invoice.number in html
    html = client.get(url, {"q": "nobody"}, **EN).content.decode()
    assert "No document matches these filters." in html
    html = client.get(url, {"date_from": "2000-01-01", "date_to": "2000-01-31"}, **EN).content.decode()
    assert invoice_link not in html and "No document matches these filters." in html
    html = client.get(url, {"date_from": "2030-01-02", "date_to": "2030-01-01"}, **EN).content.decode()
    assert "The end of the period is before its start." in html
    response = client.get(
        url, {"status": "issued"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="document-results", **EN
    )
    assert b'id="document-results"' in response.content and b"<html" not in response.content


def test_list_query_count_is_fixed(client, service, rendered, django_assert_max_num_queries):
    client.force_login(service)
    with django_assert_max_num_queries(8):
        client.get(reverse("invoicing:document_list"), **EN)


def test_detail_and_downloads(client, service, rendered):
    invoice, note = rendered
    client.force_login(service)
    html = client.get(reverse("invoicing:document_detail", args=[invoice.pk]), **EN).content.decode()
    assert note.number in html and "Issue a credit note" in html
    pdf = client.get(reverse("invoicing:document_file", args=[invoice.pk, "pdf"]))
    assert pdf.status_code == 200
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert f'filename="{invoice.number}.pdf"' in pdf["Content-Disposition"]
    xml = client.get(reverse("invoicing:document_file", args=[invoice.pk, "xml"]))
    assert b"CrossIndustryInvoice" in b"".join(xml.streaming_content)
    assert client.get(reverse("invoicing:document_file", args=[invoice.pk, "doc"])).status_code == 404


def test_resend_queues_an_email_with_the_pdf(client, service, rendered, django_capture_on_commit_callbacks):
    invoice, _note = rendered
    client.force_login(service)
    url = reverse("invoicing:document_send", args=[invoice.pk])
    assert client.post(url, {"email": "not-an-email"}, **EN).status_code == 400
    assert DocumentDelivery.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "compta@example.fr"}, **EN)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["compta@example.fr"]
    assert invoice.number in message.subject
    assert message.attachments[0][0] == f"{invoice.number}.pdf"
    assert message.attachments[0][1][:4] == b"%PDF"
    delivery = DocumentDelivery.objects.get()
    assert delivery.status == "sent"
    invoice.refresh_from_db()
    assert invoice.status == "sent" and invoice.sent_at is not None
    # A retried task never sends twice.
    from invoicing.tasks import send_document

    send_document.apply(args=[delivery.pk])
    assert len(mail.outbox) == 1


def test_email_sent_automatically_when_the_entity_wants_it(
    db, django_capture_on_commit_callbacks, settings, tmp_path
):
    LegalEntityFactory(email_documents=True)
    order = order_with_lines(customer=CustomerFactory(email="bob@example.fr", language="en"))
    consume(order)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_issue_for_order(order=order, scope="shipped")
    assert [m.to for m in mail.outbox] == [["bob@example.fr"]]
    assert mail.outbox[0].subject.startswith("Invoice FA-")


def test_credit_note_page(client, service, rendered, django_capture_on_commit_callbacks):
    invoice, _note = rendered
    client.force_login(service)
    url = reverse("invoicing:credit_note_create", args=[invoice.pk])
    lines = list(invoice.lines.order_by("position"))
    # Nothing chosen: an error, nothing issued.
    response = client.post(url, {"reason": "Geste", f"line_{lines[0].pk}": 0, f"line_{lines[1].pk}": 0}, **EN)
    assert response.status_code == 400 and b"Choose at least one unit to credit." in response.content
    # Too many: refused by the form.
    response = client.post(url, {"reason": "Geste", f"line_{lines[0].pk}": 5}, **EN)
    assert response.status_code == 400
    assert Invoice.objects.filter(kind="credit_note").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "Geste commercial", f"line_{lines[1].pk}": 1}, **EN)
    assert response.status_code == 302
    new = Invoice.objects.filter(kind="credit_note").latest("id")
    assert response["Location"] == reverse("invoicing:document_detail", args=[new.pk])
    assert [(line.sku, line.quantity) for line in new.lines.all()] == [("CAFE-1KG", 1)]
    # A credit note cannot itself be credited.
    assert client.get(reverse("invoicing:credit_note_create", args=[new.pk]), **EN).status_code == 404


def test_export_builds_csv_xlsx_and_zip(client, manager, rendered, django_capture_on_commit_callbacks):
    invoice, note = rendered
    client.force_login(manager)
    url = reverse("invoicing:export_create")
    response = client.post(url, {"date_from": "2030-01-02", "date_to": "2030-01-01"}, **EN)
    assert response.status_code == 400 and InvoiceExport.objects.count() == 0
    day = invoice.issue_date.isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"date_from": day, "date_to": day}, **EN)
    export = InvoiceExport.objects.get()
    assert response["Location"] == reverse("invoicing:export_detail", args=[export.pk])
    assert export.status == "done" and export.total == 2
    progress = client.get(response["Location"], HTTP_HX_REQUEST="true", **EN).content.decode()
    assert "every 1s" not in progress and "2 documents exported." in progress

    body = b"".join(
        client.get(reverse("invoicing:export_download", args=[export.pk, "csv"])).streaming_content
    )
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    # One row per document and VAT rate: the invoice has two rates, the credit note one.
    assert [(r["number"], r["vat_rate"]) for r in rows] == [
        (invoice.number, "20.0"),
        (invoice.number, "5.5"),
        (note.number, "20.0"),
    ]
    assert sum(Decimal(r["total_incl_vat"]) for r in rows) == invoice.total_incl_vat - note.total_incl_vat
    assert rows[2]["corrects"] == invoice.number

    xlsx = b"".join(
        client.get(reverse("invoicing:export_download", args=[export.pk, "xlsx"])).streaming_content
    )
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet.max_row == 4
    archive = zipfile.ZipFile(
        io.BytesIO(
            b"".join(
                client.get(reverse("invoicing:export_download", args=[export.pk, "zip"])).streaming_content
            )
        )
    )
    assert sorted(name.split("/")[-1] for name in archive.namelist()) == sorted(
        [invoice.filename, note.filename]
    )


def test_export_page_polls_while_running(client, manager, entity):
    client.force_login(manager)
    export = InvoiceExport.objects.create(
        date_from="2026-01-01", date_to="2026-01-31", status="running", total=40, done=10
    )
    html = client.get(reverse("invoicing:export_detail", args=[export.pk]), **EN).content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="25"' in html


def test_settings_entity_and_channels(client, manager, db):
    channel = ChannelFactory(code="web", name="Web")
    client.force_login(manager)
    url = reverse("invoicing:entity_create")
    data = {
        "name": "Boutique SAS",
        "legal_form": "SAS",
        "share_capital": "10000",
        "address_line1": "1 rue A",
        "postcode": "69001",
        "city": "Lyon",
        "country": "FR",
        "siren": "732829320",
        "siret": "11111111100011",
        "rcs_city": "Lyon",
        "vat_number": "fr44 732829320",
        "payment_terms_days": "30",
        "late_penalty_rate": "12",
        "iban": "FR76 3000 6000 0112 3456 7890 188",
        "invoice_prefix": "FA",
        "credit_note_prefix": "AV",
    }
    response = client.post(url, data, **EN)
    assert response.status_code == 400
    html = response.content.decode()
    assert "The SIRET starts with the SIREN." in html and "This IBAN is not valid." in html
    assert LegalEntity.objects.count() == 0

    data.update(siret="73282932000011", iban="FR76 3000 6000 0112 3456 7890 189")
    assert client.post(url, data, **EN).status_code == 302
    entity = LegalEntity.objects.get()
    assert entity.is_default  # the first entity is the default one
    assert entity.vat_number == "FR44732829320" and entity.iban == "FR7630006000011234567890189"

    settings_url = reverse("invoicing:settings")
    assert "Boutique SAS" in client.get(settings_url, **EN).content.decode()
    response = client.post(
        settings_url, {f"entity_{channel.pk}": entity.pk, f"policy_{channel.pk}": "delivered"}, **EN
    )
    assert response.status_code == 302
    billing = ChannelBilling.objects.get(channel=channel)
    assert (billing.legal_entity, billing.issue_policy) == (entity, "delivered")
    response = client.post(settings_url, {f"policy_{channel.pk}": "whenever"}, **EN)
    assert response.status_code == 400
    assert ChannelBilling.objects.get(channel=channel).issue_policy == "delivered"


def test_portal_fragment_and_download_by_token(client, rendered):
    invoice, note = rendered
    order = invoice.order
    url = reverse("invoicing:portal_documents", args=[order.tracking_token])
    html = client.get(url, **EN).content.decode()
    assert invoice.number in html and note.number in html
    pdf_url = reverse("invoicing:portal_document_pdf", args=[order.tracking_token, invoice.number])
    assert pdf_url in html
    response = client.get(pdf_url)
    assert response.status_code == 200 and b"".join(response.streaming_content)[:4] == b"%PDF"
    assert response["Cache-Control"] == "private, no-store"

    # Another order's token cannot fetch this order's documents; unknown tokens are 404.
    other = order_with_lines(lines=[("Z", "1.00", "20.0", 1)])
    assert (
        client.get(
            reverse("invoicing:portal_document_pdf", args=[other.tracking_token, invoice.number])
        ).status_code
        == 404
    )
    assert (
        client.get(reverse("invoicing:portal_document_pdf", args=["nope", invoice.number])).status_code == 404
    )
    assert client.get(reverse("invoicing:portal_documents", args=["nope"])).status_code == 404
    assert (
        "Your invoice will be here once your order has shipped."
        in client.get(
            reverse("invoicing:portal_documents", args=[other.tracking_token]), **EN
        ).content.decode()
    )


def test_admin_shows_documents_read_only(client, rendered):
    from django.contrib.auth import get_user_model

    invoice, _note = rendered
    admin_user = get_user_model().objects.create_superuser("root", "root@example.fr", "pw-12345678")
    client.force_login(admin_user)
    change_url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    page = client.get(change_url, **EN)
    assert page.status_code == 200 and invoice.number in page.content.decode()
    assert client.post(change_url, {"buyer_name": "X"}, **EN).status_code == 403
    assert (
        client.post(
            reverse("admin:invoicing_invoice_delete", args=[invoice.pk]), {"post": "yes"}, **EN
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:invoicing_invoice_add"), **EN).status_code == 403
    invoice.refresh_from_db()
    assert invoice.buyer_name == "Ana Roux"
    assert client.get(reverse("admin:invoicing_legalentity_changelist"), **EN).status_code == 200
