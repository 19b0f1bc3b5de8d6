"""The UBL 2.1 Invoice / CreditNote of a document, EN 16931 (CustomizationID urn:cen.eu:en16931:2017), with
the
same business terms as the CII of ``cii.py`` and the 2026 French mentions (BT-23 in ProfileID, the notes as
"#SUBJECT#text", SIREN-based electronic addresses). Elements follow the order of the UBL 2.1 XSD sequences.
Credit notes are CreditNote documents (type 381) with positive amounts referring to the invoice (BG-3)."""

from decimal import Decimal

from lxml import etree

from ..models import Invoice
from .cii import (
    ADDRESS_SCHEME,
    SEPA_CREDIT_TRANSFER,
    SIREN_SCHEME,
    SIRET_SCHEME,
    UNIT_PIECE,
    _amount,
    _category,
    _rate,
)
from .mentions import buyer_reference, electronic_address, legal_notes, payment_terms_text, vat_due_on_invoice

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EN16931 = "urn:cen.eu:en16931:2017"
VAT_DUE_ON_INVOICE_DATE = "3"  # UNTDID 2005 (BT-8 in UBL): invoice document issue date


def _cbc(parent, name: str, text=None, **attrs):
    element = etree.SubElement(parent, f"{{{CBC}}}{name}", **attrs)
    if text is not None:
        element.text = str(text)
    return element


def _cac(parent, name: str):
    return etree.SubElement(parent, f"{{{CAC}}}{name}")


def _money(parent, name: str, value, currency: str):
    return _cbc(parent, name, _amount(value), currencyID=currency)


def _postal(parent, name: str, address: dict):
    postal = _cac(parent, name)
    if address.get("line1"):
        _cbc(postal, "StreetName", address["line1"])
    if address.get("line2"):
        _cbc(postal, "AdditionalStreetName", address["line2"])
    if address.get("city"):
        _cbc(postal, "CityName", address["city"])
    if address.get("postcode"):
        _cbc(postal, "PostalZone", address["postcode"])
    _cbc(_cac(postal, "Country"), "IdentificationCode", (address.get("country") or "FR").upper())
    return postal


def _tax_category(parent, name: str, rate):
    category = _cac(parent, name)
    _cbc(category, "ID", _category(rate))
    _cbc(category, "Percent", _rate(rate))
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    return category


def _seller(root, seller: dict):
    party = _cac(_cac(root, "AccountingSupplierParty"), "Party")  # BG-4
    _cbc(party, "EndpointID", electronic_address(siren=seller["siren"]), schemeID=ADDRESS_SCHEME)  # BT-34
    _cbc(_cac(party, "PartyIdentification"), "ID", seller["siret"], schemeID=SIRET_SCHEME)  # BT-29
    _cbc(_cac(party, "PartyName"), "Name", seller["name"])  # BT-28
    _postal(
        party,
        "PostalAddress",
        {
            "line1": seller["address_line1"],
            "line2": seller["address_line2"],
            "postcode": seller["postcode"],
            "city": seller["city"],
            "country": seller["country"],
        },
    )
    tax = _cac(party, "PartyTaxScheme")
    _cbc(tax, "CompanyID", seller["vat_number"])  # BT-31
    _cbc(_cac(tax, "TaxScheme"), "ID", "VAT")
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", seller["name"])  # BT-27
    _cbc(legal, "CompanyID", seller["siren"], schemeID=SIREN_SCHEME)  # BT-30
    _cbc(
        legal,
        "CompanyLegalForm",
        f"{seller['legal_form']} au capital de {seller['share_capital']} EUR - RCS {seller['rcs_city']} "
        f"{seller['siren']}",
    )  # BT-33
    if seller.get("email"):
        _cbc(_cac(party, "Contact"), "ElectronicMail", seller["email"])  # BT-43


def _buyer(root, document: Invoice):
    buyer = document.buyer
    party = _cac(_cac(root, "AccountingCustomerParty"), "Party")  # BG-7
    if buyer.get("siren"):
        _cbc(
            party,
            "EndpointID",
            electronic_address(siren=buyer["siren"], override=buyer.get("electronic_address", "")),
            schemeID=ADDRESS_SCHEME,
        )  # BT-49
    elif buyer.get("email"):
        _cbc(party, "EndpointID", buyer["email"], schemeID="EM")
    public = buyer.get("public") or {}
    if public.get("siret"):
        _cbc(_cac(party, "PartyIdentification"), "ID", public["siret"], schemeID=SIRET_SCHEME)  # BT-46
    _postal(party, "PostalAddress", buyer["address"])
    if document.is_b2b and buyer.get("vat_number"):
        tax = _cac(party, "PartyTaxScheme")
        _cbc(tax, "CompanyID", buyer["vat_number"])  # BT-48
        _cbc(_cac(tax, "TaxScheme"), "ID", "VAT")
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", buyer["name"])  # BT-44
    if buyer.get("siren"):
        _cbc(legal, "CompanyID", buyer["siren"], schemeID=SIREN_SCHEME)  # BT-47
    if buyer.get("email"):
        _cbc(_cac(party, "Contact"), "ElectronicMail", buyer["email"])  # BT-58


def build_ubl(document: Invoice) -> bytes:
    credit = document.is_credit_note
    root_ns = CREDIT_NOTE_NS if credit else INVOICE_NS
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}", nsmap={None: root_ns, "cac": CAC, "cbc": CBC}
    )
    currency = document.currency
    _cbc(root, "CustomizationID", EN16931)  # BT-24
    _cbc(root, "ProfileID", document.bt23)  # BT-23
    _cbc(root, "ID", document.number)  # BT-1
    _cbc(root, "IssueDate", document.issue_date.isoformat())  # BT-2
    if not credit:
        _cbc(root, "DueDate", document.due_date.isoformat())  # BT-9
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", document.type_code)  # BT-3
    for subject, text in legal_notes(document):  # BG-1
        _cbc(root, "Note", f"#{subject}#{text}")
    _cbc(root, "DocumentCurrencyCode", currency)  # BT-5
    reference = buyer_reference(document)
    if reference:
        _cbc(root, "BuyerReference", reference)  # BT-10
    if vat_due_on_invoice(document):
        _cbc(_cac(root, "InvoicePeriod"), "DescriptionCode", VAT_DUE_ON_INVOICE_DATE)  # BT-8
    if document.purchase_order:
        _cbc(_cac(root, "OrderReference"), "ID", document.purchase_order)  # BT-13
    if document.corrects_id:
        reference_doc = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")  # BG-3
        _cbc(reference_doc, "ID", document.corrects.number)  # BT-25
        _cbc(reference_doc, "IssueDate", document.corrects.issue_date.isoformat())  # BT-26

    _seller(root, document.seller)
    _buyer(root, document)

    delivery = _cac(root, "Delivery")  # BG-13
    _cbc(delivery, "ActualDeliveryDate", document.delivery_date.isoformat())  # BT-72
    ship_to = document.buyer.get("delivery") or {}
    if ship_to.get("line1") or ship_to.get("city"):
        _postal(_cac(delivery, "DeliveryLocation"), "Address", ship_to)  # BG-15
        _cbc(
            _cac(_cac(delivery, "DeliveryParty"), "PartyName"),
            "Name",
            ship_to.get("name") or document.buyer_name,
        )

    seller = document.seller
    if seller.get("iban") and not credit:
        means = _cac(root, "PaymentMeans")  # BG-16
        _cbc(means, "PaymentMeansCode", SEPA_CREDIT_TRANSFER)  # BT-81
        _cbc(means, "PaymentID", document.number)  # BT-83
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", seller["iban"].replace(" ", ""))  # BT-84
        if seller.get("bic"):
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", seller["bic"])  # BT-86
    _cbc(_cac(root, "PaymentTerms"), "Note", payment_terms_text(document))  # BT-20
    for allowance in document.allowances or ():  # BG-20
        charge = _cac(root, "AllowanceCharge")
        _cbc(charge, "ChargeIndicator", "false")
        _cbc(charge, "AllowanceChargeReason", allowance["reason"])  # BT-97
        _money(charge, "Amount", allowance["base"], currency)  # BT-92
        _tax_category(charge, "TaxCategory", allowance["rate"])  # BT-95, BT-96

    tax_total = _cac(root, "TaxTotal")
    _money(tax_total, "TaxAmount", document.total_vat, currency)  # BT-110
    for rate in document.vat_breakdown:  # BG-23
        subtotal = _cac(tax_total, "TaxSubtotal")
        _money(subtotal, "TaxableAmount", rate["base"], currency)  # BT-116
        _money(subtotal, "TaxAmount", rate["vat"], currency)  # BT-117
        _tax_category(subtotal, "TaxCategory", rate["rate"])  # BT-118, BT-119

    totals = _cac(root, "LegalMonetaryTotal")  # BG-22
    _money(totals, "LineExtensionAmount", document.lines_total_excl_vat, currency)  # BT-106
    _money(totals, "TaxExclusiveAmount", document.total_excl_vat, currency)  # BT-109
    _money(totals, "TaxInclusiveAmount", document.total_incl_vat, currency)  # BT-112
    if document.allowances:
        _money(totals, "AllowanceTotalAmount", document.allowance_total_excl_vat, currency)  # BT-107
    _money(totals, "PayableAmount", document.total_incl_vat, currency)  # BT-115

    for line in document.lines.all():  # BG-25
        item_line = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
        _cbc(item_line, "ID", line.position)  # BT-126
        _cbc(
            item_line,
            "CreditedQuantity" if credit else "InvoicedQuantity",
            line.quantity,
            unitCode=UNIT_PIECE,
        )  # BT-129, BT-130
        _money(item_line, "LineExtensionAmount", line.total_excl_vat, currency)  # BT-131
        item = _cac(item_line, "Item")
        _cbc(item, "Name", line.description)  # BT-153
        if line.sku:
            _cbc(_cac(item, "SellersItemIdentification"), "ID", line.sku)  # BT-155
        _tax_category(item, "ClassifiedTaxCategory", line.vat_rate)  # BT-151, BT-152
        price = _cac(item_line, "Price")
        _cbc(price, "PriceAmount", f"{Decimal(line.unit_price_excl_vat):.4f}", currencyID=currency)  # BT-146

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
