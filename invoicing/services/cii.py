"""The Factur-X EN16931 CII XML of a document (UN/CEFACT Cross Industry Invoice D16B, as factur-x checks it).

Elements are written in the order of the XSD's sequences. Business terms (BT-…) of EN 16931 are named in the
comments. Credit notes are type 381 with positive amounts and refer to the invoice they correct (BT-25/26).
"""

from decimal import Decimal

from lxml import etree

from ..models import Invoice
from .mentions import (
    buyer_reference,
    electronic_address,
    legal_notes,
    payment_terms_text,
    seller_legal_text,
    vat_due_on_invoice,
)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
EN16931 = "urn:cen.eu:en16931:2017"
UNIT_PIECE = "C62"  # UN/ECE rec 20: one (unit)
SEPA_CREDIT_TRANSFER = "58"
CREDIT_TRANSFER = "30"
SIREN_SCHEME = "0002"  # ISO 6523: SIREN
SIRET_SCHEME = "0009"  # ISO 6523: SIRET
ADDRESS_SCHEME = "0225"  # French e-invoicing directory (SIREN-based electronic address)
VAT_DUE_ON_INVOICE_DATE = "5"  # UNTDID 2475, BT-8 "invoice date" (the VAT-on-debits option)


def _el(parent, tag: str, text=None, **attrs):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", **attrs)
    if text is not None:
        element.text = str(text)
    return element


def _date(parent, tag: str, value, qualified: bool = False):
    wrapper = _el(parent, tag)
    _el(
        wrapper,
        "qdt:DateTimeString" if qualified else "udt:DateTimeString",
        value.strftime("%Y%m%d"),
        format="102",
    )
    return wrapper


def _amount(value) -> str:
    return f"{Decimal(value):.2f}"


def _rate(value) -> str:
    text = f"{Decimal(value):.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _category(rate) -> str:
    """VAT category (UNCL 5305): S standard rate, Z zero rated."""
    return "S" if Decimal(rate) > 0 else "Z"


def _address(parent, address: dict):
    postal = _el(parent, "ram:PostalTradeAddress")
    if address.get("postcode"):
        _el(postal, "ram:PostcodeCode", address["postcode"])
    if address.get("line1"):
        _el(postal, "ram:LineOne", address["line1"])
    if address.get("line2"):
        _el(postal, "ram:LineTwo", address["line2"])
    if address.get("city"):
        _el(postal, "ram:CityName", address["city"])
    _el(postal, "ram:CountryID", (address.get("country") or "FR").upper())


def build_cii(document: Invoice) -> bytes:
    seller, buyer = document.seller, document.buyer
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)

    context = _el(root, "rsm:ExchangedDocumentContext")
    process = _el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _el(process, "ram:ID", document.bt23)  # BT-23: B1 goods, S1 services, M1 both
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", EN16931)  # BT-24

    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", document.number)  # BT-1
    _el(header, "ram:TypeCode", document.type_code)  # BT-3
    _date(header, "ram:IssueDateTime", document.issue_date)  # BT-2
    for subject, text in legal_notes(document):  # BG-1
        note = _el(header, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        _el(note, "ram:SubjectCode", subject)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in document.lines.all():  # BG-25
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.position)  # BT-126
        product = _el(item, "ram:SpecifiedTradeProduct")
        if line.sku:
            _el(product, "ram:SellerAssignedID", line.sku)  # BT-155
        _el(product, "ram:Name", line.description)  # BT-153
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        net_price = _el(agreement, "ram:NetPriceProductTradePrice")
        _el(net_price, "ram:ChargeAmount", f"{line.unit_price_excl_vat:.4f}")  # BT-146
        delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
        _el(delivery, "ram:BilledQuantity", line.quantity, unitCode=UNIT_PIECE)  # BT-129, BT-130
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", _category(line.vat_rate))  # BT-151
        _el(tax, "ram:RateApplicablePercent", _rate(line.vat_rate))  # BT-152
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(line.total_excl_vat))  # BT-131

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    reference = buyer_reference(document)
    if reference:
        _el(agreement, "ram:BuyerReference", reference)  # BT-10
    seller_party = _el(agreement, "ram:SellerTradeParty")  # BG-4
    _el(seller_party, "ram:GlobalID", seller["siret"], schemeID=SIRET_SCHEME)  # BT-29 (SIRET)
    _el(seller_party, "ram:Name", seller["name"])  # BT-27
    _el(seller_party, "ram:Description", seller_legal_text(seller))  # BT-33
    legal = _el(seller_party, "ram:SpecifiedLegalOrganization")
    _el(legal, "ram:ID", seller["siren"], schemeID=SIREN_SCHEME)  # BT-30 (SIREN)
    _address(
        seller_party,
        {
            "line1": seller["address_line1"],
            "line2": seller["address_line2"],
            "postcode": seller["postcode"],
            "city": seller["city"],
            "country": seller["country"],
        },
    )
    _el(
        _el(seller_party, "ram:URIUniversalCommunication"),
        "ram:URIID",
        electronic_address(siren=seller["siren"]),
        schemeID=ADDRESS_SCHEME,
    )  # BT-34
    _el(
        _el(seller_party, "ram:SpecifiedTaxRegistration"), "ram:ID", seller["vat_number"], schemeID="VA"
    )  # BT-31

    buyer_party = _el(agreement, "ram:BuyerTradeParty")  # BG-7
    public = buyer.get("public") or {}
    if public.get("siret"):
        _el(buyer_party, "ram:GlobalID", public["siret"], schemeID=SIRET_SCHEME)  # BT-46
    _el(buyer_party, "ram:Name", buyer["name"])  # BT-44
    if buyer.get("siren"):
        _el(
            _el(buyer_party, "ram:SpecifiedLegalOrganization"),
            "ram:ID",
            buyer["siren"],
            schemeID=SIREN_SCHEME,
        )  # BT-47
    _address(buyer_party, buyer["address"])
    if buyer.get("siren"):
        _el(
            _el(buyer_party, "ram:URIUniversalCommunication"),
            "ram:URIID",
            electronic_address(siren=buyer["siren"], override=buyer.get("electronic_address", "")),
            schemeID=ADDRESS_SCHEME,
        )  # BT-49
    elif buyer.get("email"):
        _el(
            _el(buyer_party, "ram:URIUniversalCommunication"), "ram:URIID", buyer["email"], schemeID="EM"
        )  # BT-49
    if document.is_b2b and buyer.get("vat_number"):
        _el(
            _el(buyer_party, "ram:SpecifiedTaxRegistration"), "ram:ID", buyer["vat_number"], schemeID="VA"
        )  # BT-48
    if document.purchase_order:
        order_ref = _el(agreement, "ram:BuyerOrderReferencedDocument")
        _el(order_ref, "ram:IssuerAssignedID", document.purchase_order)  # BT-13

    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    ship_to = buyer.get("delivery") or {}
    if ship_to.get("line1") or ship_to.get("city"):
        party = _el(delivery, "ram:ShipToTradeParty")  # BG-13
        _el(party, "ram:Name", ship_to.get("name") or buyer["name"])  # BT-70
        _address(party, ship_to)
    event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
    _date(event, "ram:OccurrenceDateTime", document.delivery_date)  # BT-72

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:PaymentReference", document.number)  # BT-83
    _el(settlement, "ram:InvoiceCurrencyCode", document.currency)  # BT-5
    if seller.get("iban") and not document.is_credit_note:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")  # BG-16
        _el(means, "ram:TypeCode", SEPA_CREDIT_TRANSFER)  # BT-81
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", seller["iban"].replace(" ", ""))  # BT-84
        if seller.get("bic"):
            bank = _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _el(bank, "ram:BICID", seller["bic"])  # BT-86
    for rate in document.vat_breakdown:  # BG-23
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(rate["vat"]))  # BT-117
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:BasisAmount", _amount(rate["base"]))  # BT-116
        _el(tax, "ram:CategoryCode", _category(rate["rate"]))  # BT-118
        if vat_due_on_invoice(document):
            _el(tax, "ram:DueDateTypeCode", VAT_DUE_ON_INVOICE_DATE)  # BT-8
        _el(tax, "ram:RateApplicablePercent", _rate(rate["rate"]))  # BT-119
    for allowance in document.allowances or ():  # BG-20
        charge = _el(settlement, "ram:SpecifiedTradeAllowanceCharge")
        _el(_el(charge, "ram:ChargeIndicator"), "udt:Indicator", "false")
        _el(charge, "ram:ActualAmount", _amount(allowance["base"]))  # BT-92
        _el(charge, "ram:Reason", allowance["reason"])  # BT-97
        tax = _el(charge, "ram:CategoryTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", _category(allowance["rate"]))  # BT-95
        _el(tax, "ram:RateApplicablePercent", _rate(allowance["rate"]))  # BT-96
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", payment_terms_text(document))  # BT-20
    if not document.is_credit_note:
        _date(terms, "ram:DueDateDateTime", document.due_date)  # BT-9
    totals = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")  # BG-22
    _el(totals, "ram:LineTotalAmount", _amount(document.lines_total_excl_vat))  # BT-106
    if document.allowances:
        _el(totals, "ram:AllowanceTotalAmount", _amount(document.allowance_total_excl_vat))  # BT-107
    _el(totals, "ram:TaxBasisTotalAmount", _amount(document.total_excl_vat))  # BT-109
    _el(totals, "ram:TaxTotalAmount", _amount(document.total_vat), currencyID=document.currency)  # BT-110
    _el(totals, "ram:GrandTotalAmount", _amount(document.total_incl_vat))  # BT-112
    _el(totals, "ram:DuePayableAmount", _amount(document.total_incl_vat))  # BT-115
    if document.corrects_id:
        preceding = _el(settlement, "ram:InvoiceReferencedDocument")  # BG-3
        _el(preceding, "ram:IssuerAssignedID", document.corrects.number)  # BT-25
        _date(preceding, "ram:FormattedIssueDateTime", document.corrects.issue_date, qualified=True)  # BT-26

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
