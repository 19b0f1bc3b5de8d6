"""The 2026 e-invoicing reform: mentions, both formats checked against their XSD and the EN 16931 and
French CTC schematrons (offline, saxonche), the SIREN check, the sandbox platform through the whole loop,
retries when the platform is down, webhooks, payments and the "collected" status."""

import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from inventory.models import Product
from invoicing.exceptions import BuyerSirenMissing, PaymentRefused
from invoicing.models import (
    BuyerProfile,
    Invoice,
    LifecycleEvent,
    NumberSequence,
    Payment,
    SandboxMessage,
    Transmission,
)
from invoicing.platforms.sandbox import SIGNATURE_HEADER, buyer_decision, sign
from invoicing.services.cii import build_cii
from invoicing.services.issue import credit_note_issue, invoice_issue_for_order, on_order_event
from invoicing.services.payments import payment_record
from invoicing.services.transmission import platform_poll, problems_open, transmissions_sweep
from invoicing.services.ubl import build_ubl
from invoicing.services.validation import check_xsd, schematron_errors
from tests.events import events_of
from tests.invoicing.factories import b2b_customer, consume, order_with_lines
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _pdf_text(document) -> str:
    document.refresh_from_db()
    assert document.status == "issued", document.render_error
    with document.pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _assert_valid(xml: bytes):
    check_xsd(xml)
    fatal = [
        f"{e['id']}: {e['text'][:160]}" for e in schematron_errors(xml) if e["flag"] in ("", "fatal", "error")
    ]
    assert fatal == []


def _b2c():
    return CustomerFactory(email="ana@example.fr", first_name="Ana", last_name="Roux", language="en")


def _b2b_elsewhere():
    """A business customer whose goods go to another address than the billing one."""
    return b2b_customer(language="en")


def _mixed_order(customer):
    order = order_with_lines(
        customer=customer, lines=[("TSHIRT-M", "19.90", "20.0", 2), ("MONTAGE", "60.00", "20.0", 1)]
    )
    Product.objects.filter(sku="MONTAGE").update(nature="services")
    return order


CASES = {
    "b2c": lambda: order_with_lines(customer=_b2c()),
    "b2b": lambda: order_with_lines(customer=_b2b_elsewhere(), purchase_order="PO-778"),
    "mixed": lambda: _mixed_order(_b2b_elsewhere()),
}


def _issue(order, capture):
    consume(order)
    with capture(execute=True):
        return invoice_issue_for_order(order=order, scope="shipped")


@pytest.mark.parametrize("case", ["b2c", "b2b", "mixed", "credit_note"])
@pytest.mark.parametrize("fmt", ["facturx", "ubl"])
def test_golden_documents_are_schema_and_rule_valid_with_every_mention(
    entity, django_capture_on_commit_callbacks, case, fmt
):
    # given a seller sending the chosen format
    entity.einvoice_format = fmt
    entity.save()
    order = CASES["b2b" if case == "credit_note" else case]()
    document = _issue(order, django_capture_on_commit_callbacks)
    if case == "credit_note":
        with django_capture_on_commit_callbacks(execute=True):
            document = credit_note_issue(invoice=document, reason="Return of 1 item")

    # then both XML are valid against their XSD and the EN 16931 + French CTC schematrons
    cii = build_cii(document)
    ubl = build_ubl(document)
    _assert_valid(cii)
    _assert_valid(ubl)
    document.refresh_from_db()
    assert bool(document.ubl) == (fmt == "ubl")
    assert document.einvoice_format == fmt

    # and the XML carry the 2026 mentions
    expected_bt23 = {"mixed": "M1"}.get(case, "B1")
    assert f"<ram:ID>{expected_bt23}</ram:ID>" in cii.decode()
    assert f"<cbc:ProfileID>{expected_bt23}</cbc:ProfileID>" in ubl.decode()
    text = _pdf_text(document)
    common = [
        "Maison Exemple",
        "SIREN 732829320",
        "RCS Lyon 732829320",
        "FR44732829320",
        "Issue date",
        "Date of sale or delivery",
        "Unit price excl. VAT",
        "VAT rate",
        "Total excl. VAT",
        "Total VAT",
        "No discount for early payment",
        "Nature of operations",
        document.number,
    ]
    for mention in common:
        assert mention in text, mention
    if case == "b2c":
        assert document.treatment == "B2C"
        assert "Goods" in text and "legal guarantee of conformity" in text
        assert ">BAR</ram:SubjectCode>" in cii.decode() and "<ram:Content>B2C</ram:Content>" in cii.decode()
    else:
        assert document.treatment == "B2B"
        for mention in [
            "SIREN 552100554",
            "FR40552100554",
            "DELIVERED TO",
            "3 rue X",
            "BILLED TO",
            "8 avenue Foch",
        ]:
            assert mention in text, mention
        assert 'schemeID="0225">552100554<' in cii.decode()  # BT-49, the buyer's electronic address
        assert 'schemeID="0225">552100554<' in ubl.decode()
    if case == "credit_note":
        assert "Credit note for invoice" in text and document.corrects.number in text
    if case == "b2b":
        assert "€40" in text and "PO-778" in text
    if case == "mixed":
        assert document.nature == "mixed" and "Goods and services" in text
        assert [line.nature for line in document.lines.order_by("position")] == ["goods", "services"]


def test_vat_on_debits_is_printed_and_in_both_xml(entity, django_capture_on_commit_callbacks):
    entity.vat_on_debits = True
    entity.save()
    order = order_with_lines(customer=b2b_customer(language="en"), lines=[("MONTAGE", "60.00", "20.0", 1)])
    Product.objects.filter(sku="MONTAGE").update(nature="services")
    invoice = _issue(order, django_capture_on_commit_callbacks)

    assert invoice.nature == "services"
    assert "Option for paying VAT on debits" in _pdf_text(invoice)
    cii, ubl = build_cii(invoice), build_ubl(invoice)
    assert "<ram:DueDateTypeCode>5</ram:DueDateTypeCode>" in cii.decode()  # BT-8
    assert "<cbc:DescriptionCode>3</cbc:DescriptionCode>" in ubl.decode()
    _assert_valid(cii)
    _assert_valid(ubl)


def test_b2b_invoice_without_buyer_siren_is_refused_and_nothing_is_written(entity):
    customer = b2b_customer(siren="")
    order = order_with_lines(customer=customer)
    consume(order)

    with pytest.raises(BuyerSirenMissing) as raised:
        invoice_issue_for_order(order=order, scope="shipped")

    assert raised.value.details["suggested_siren"] == "552100554"  # read from the FR VAT number
    assert "Fill it in on the order's invoicing panel" in raised.value.message
    assert Invoice.objects.count() == 0
    assert NumberSequence.objects.filter(last_number__gt=0).count() == 0


def test_missing_siren_is_on_the_timeline_and_filled_in_from_the_order_panel(
    entity, client, manager, django_capture_on_commit_callbacks
):
    customer = b2b_customer(siren="")
    order = order_with_lines(customer=customer)
    consume(order)
    on_order_event(order=order, event="shipped")  # what the orders' signal does
    event = events_of(order, "einvoice.siren_missing").get()
    assert event.payload == {"params": {"company": "Maison Dupont SARL", "vat_number": "FR40552100554"}}

    client.force_login(manager)
    url = reverse("invoicing:order_invoicing", args=[order.number])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert b"has no SIREN" in page.content and b'value="552100554"' in page.content
    bad = client.post(url, {"siren": "12"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and Invoice.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"siren": "552100554"}, HTTP_ACCEPT_LANGUAGE="en")
    assert done.status_code == 302
    invoice = Invoice.objects.get(order=order)
    assert invoice.buyer["siren"] == "552100554" and invoice.treatment == "B2B"


# --- The sandbox platform, the whole loop -------------------------------------------------------------------


@pytest.fixture
def sandbox(entity, settings):
    settings.SANDBOX_PA_WEBHOOK_SECRET = "whsec-test"
    settings.SANDBOX_PA_DOWN = False
    entity.platform = "sandbox"
    entity.save()
    return entity


def _services_invoice(capture, customer=None):
    from customers.models import Customer

    customer = customer or Customer.objects.filter(email="achats@dupont.fr").first() or b2b_customer()
    order = order_with_lines(customer=customer, lines=[("MONTAGE", "60.00", "20.0", 2)])
    Product.objects.filter(sku="MONTAGE").update(nature="services")
    return _issue(order, capture)


def _webhook(client, call):
    return client.post(
        reverse("invoicing:platform_webhook", args=["sandbox"]),
        data=call["body"],
        content_type="application/json",
        **{f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}": call["headers"][SIGNATURE_HEADER]},
    )


def test_sandbox_full_loop_issue_sent_deposited_refused_credit_note_collected(
    sandbox, client, settings, django_capture_on_commit_callbacks
):
    # issue → sent → deposited
    invoice = _services_invoice(django_capture_on_commit_callbacks)
    transmission = Transmission.objects.get(document=invoice, kind="document")
    assert transmission.state == "sent" and transmission.platform_ref.startswith("SBX-")
    assert list(invoice.lifecycle.values_list("code", flat=True)) == ["200", "202", "203"]
    types = list(events_of(invoice.order).values_list("code", flat=True))
    assert {"einvoice.queued", "einvoice.sent", "einvoice.status"} <= set(types)

    # refused by the buyer, by signed webhook (delivered twice: stored once)
    call = buyer_decision(
        platform_ref=transmission.platform_ref,
        code="210",
        reason="Prix non conforme au devis",
        config={"webhook_secret": "whsec-test"},
    )
    assert _webhook(client, call).json() == {"recorded": 1}
    assert _webhook(client, call).json() == {"recorded": 0}
    refused = invoice.lifecycle.get(code="210")
    assert refused.reason == "Prix non conforme au devis" and refused.source == "webhook"
    assert [e.document_id for e in problems_open()] == [invoice.pk]
    problem = events_of(invoice.order, "einvoice.problem").get()
    assert problem.payload["params"]["reason"] == "Prix non conforme au devis"

    # the corrective credit note clears the alert, and travels to the platform too
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_issue(invoice=invoice, reason="Facture refusée")
    assert list(problems_open()) == []
    assert Transmission.objects.get(document=note).state == "sent"

    # a new invoice is collected: the "collected" status goes to the platform
    second = _services_invoice(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_record(
            document=second, paid_on=second.issue_date, amount=second.total_incl_vat, method="transfer"
        )
    status = Transmission.objects.get(payment=payment, kind="status")
    assert status.state == "sent" and status.status_code == "212"
    assert status.payload["amounts"] == [{"rate": "20.0", "amount": "120.00"}]
    assert second.lifecycle.filter(code="212", source="seller").count() == 1
    assert SandboxMessage.objects.filter(kind="document").count() == 3  # each document sent once


def test_platform_down_is_retried_and_nothing_is_sent_twice(
    sandbox, settings, django_capture_on_commit_callbacks
):
    import time_machine
    from django.utils import timezone

    settings.SANDBOX_PA_DOWN = True
    invoice = _services_invoice(django_capture_on_commit_callbacks)
    transmission = Transmission.objects.get(document=invoice)
    assert transmission.state == "pending" and transmission.attempts == 1
    assert "503" in transmission.last_error and transmission.next_attempt_at > timezone.now()
    assert SandboxMessage.objects.count() == 0

    settings.SANDBOX_PA_DOWN = False
    assert transmissions_sweep() == 0  # not due yet
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=5), tick=False):
        assert transmissions_sweep() == 1
        assert transmissions_sweep() == 0
    transmission.refresh_from_db()
    assert transmission.state == "sent" and transmission.attempts == 2
    assert SandboxMessage.objects.count() == 1


def test_lost_worker_is_looked_up_not_sent_again(sandbox, django_capture_on_commit_callbacks):
    import time_machine
    from django.utils import timezone

    invoice = _services_invoice(django_capture_on_commit_callbacks)
    transmission = Transmission.objects.get(document=invoice)
    # the worker sent it, then died before writing it down
    Transmission.objects.filter(pk=transmission.pk).update(state="sending", platform_ref="", sent_at=None)
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11), tick=False):
        assert transmissions_sweep() == 1
    transmission.refresh_from_db()
    assert transmission.state == "sent" and transmission.platform_ref.startswith("SBX-")
    assert SandboxMessage.objects.count() == 1


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    sandbox, client, django_capture_on_commit_callbacks
):
    invoice = _services_invoice(django_capture_on_commit_callbacks)
    ref = Transmission.objects.get(document=invoice).platform_ref
    body = json.dumps(
        {"events": [{"id": 999, "document_ref": ref, "code": "210", "at": "2026-12-01T10:00:00+00:00"}]}
    ).encode()
    response = client.post(
        reverse("invoicing:platform_webhook", args=["sandbox"]),
        data=body,
        content_type="application/json",
        HTTP_X_SANDBOX_PA_SIGNATURE=sign(body, "wrong-secret"),
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert not invoice.lifecycle.filter(code="210").exists()


def test_polling_reads_the_buyers_decisions_once(sandbox, settings, django_capture_on_commit_callbacks):
    settings.SANDBOX_PA_WEBHOOK_SECRET = ""
    invoice = _services_invoice(django_capture_on_commit_callbacks)
    ref = Transmission.objects.get(document=invoice).platform_ref
    buyer_decision(platform_ref=ref, code="205")
    assert platform_poll(platform="sandbox") == 1
    assert platform_poll(platform="sandbox") == 0
    assert list(invoice.lifecycle.values_list("code", flat=True)) == ["200", "202", "203", "205"]


def test_invalid_file_is_rejected_by_the_platform_with_its_reason(sandbox):
    from invoicing.platforms.base import OutgoingDocument
    from invoicing.platforms.registry import get_platform

    result = get_platform("sandbox").send_document(
        OutgoingDocument(
            external_id="x1",
            number="FA-1",
            type_code="380",
            treatment="B2B",
            syntax="ubl",
            filename="FA-1.xml",
            content=b"<Invoice/>",
            seller_siren="732829320",
        )
    )
    assert [u.code for u in result.updates] == ["213"]
    assert "XSD" in result.updates[0].reason


def test_consumer_invoices_are_not_transmitted(sandbox, django_capture_on_commit_callbacks):
    invoice = _issue(order_with_lines(customer=_b2c()), django_capture_on_commit_callbacks)
    assert invoice.treatment == "B2C" and not invoice.transmissions.exists()


def test_public_buyer_goes_to_chorus_pro(entity, settings, django_capture_on_commit_callbacks):
    customer = b2b_customer()
    BuyerProfile.objects.create(
        customer=customer, is_public_buyer=True, siret="55210055400013", service_code="SERV-1"
    )
    invoice = _issue(order_with_lines(customer=customer), django_capture_on_commit_callbacks)
    assert invoice.treatment == "B2G"
    transmission = Transmission.objects.get(document=invoice)
    assert transmission.platform == "chorus"
    assert transmission.state == "failed" and "Chorus Pro: set" in transmission.last_error
    cii = build_cii(invoice).decode()
    assert "<ram:BuyerReference>SERV-1</ram:BuyerReference>" in cii
    _assert_valid(build_cii(invoice))


# --- Payments ----------------------------------------------------------------------------------------------


def test_payment_beyond_the_balance_is_refused_and_nothing_changes(
    entity, django_capture_on_commit_callbacks
):
    invoice = _issue(order_with_lines(customer=_b2c()), django_capture_on_commit_callbacks)
    with pytest.raises(PaymentRefused):
        payment_record(document=invoice, paid_on=invoice.issue_date, amount=Decimal("1000"), method="card")
    assert Payment.objects.count() == 0
    payment_record(document=invoice, paid_on=invoice.issue_date, amount=Decimal("50.00"), method="card")
    with pytest.raises(PaymentRefused):
        payment_record(document=invoice, paid_on=invoice.issue_date, amount=Decimal("4.31"), method="card")
    assert Payment.objects.count() == 1
    assert not Transmission.objects.exists()  # consumer goods: no "collected" status


def test_goods_b2b_invoice_needs_no_collected_status(sandbox, django_capture_on_commit_callbacks):
    invoice = _issue(order_with_lines(customer=b2b_customer()), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payment_record(
            document=invoice, paid_on=invoice.issue_date, amount=invoice.total_incl_vat, method="transfer"
        )
    assert not Transmission.objects.filter(kind="status").exists()
    assert LifecycleEvent.objects.filter(code="212").count() == 0


def test_payment_page_and_invoice_page(entity, client, manager, django_capture_on_commit_callbacks):
    invoice = _issue(order_with_lines(customer=_b2c()), django_capture_on_commit_callbacks)
    client.force_login(manager)
    url = reverse("invoicing:payment_create", args=[invoice.pk])
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="en").status_code == 200
    bad = client.post(
        url, {"paid_on": "2026-01-01", "amount": "999", "method": "card"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert bad.status_code == 400 and b"left to pay" in bad.content
    ok = client.post(url, {"paid_on": invoice.issue_date.isoformat(), "amount": "54.30", "method": "card"})
    assert ok.status_code == 302
    page = client.get(reverse("invoicing:document_detail", args=[invoice.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert b"Payments" in page.content and b"Not an e-invoice" in page.content
