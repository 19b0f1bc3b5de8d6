"""The Factur-X EN16931 CII XML of a document (UN/CEFACT Cross Industry Invoice D16B, as factur-x checks it).

Elements are written in the order of the XSD's sequences. Business terms (BT-…) of EN 16931 are named in the
comments. Credit notes are type 381 with positive amounts and refer to the invoice they correct (BT-25/26).
"""

from decimal import Decimal

from lxml import etree

from ..models import Invoice

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
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", EN16931)  # BT-24

    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", document.number)  # BT-1
    _el(header, "ram:TypeCode", document.type_code)  # BT-3
    _date(header, "ram:IssueDateTime", document.issue_date)  # BT-2
    for subject, text in _notes(document):  # BG-1
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
    if document.purchase_order:
        _el(agreement, "ram:BuyerReference", document.purchase_order)  # BT-10
    seller_party = _el(agreement, "ram:SellerTradeParty")  # BG-4
    _el(seller_party, "ram:Name", seller["name"])  # BT-27
    _el(seller_party, "ram:Description", _seller_legal_text(seller))  # BT-33
    legal = _el(seller_party, "ram:SpecifiedLegalOrganization")
    _el(legal, "ram:ID", seller["siren"], schemeID="0002")  # BT-30 (SIREN)
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
    if seller.get("email"):
        _el(_el(seller_party, "ram:URIUniversalCommunication"), "ram:URIID", seller["email"], schemeID="EM")
    _el(
        _el(seller_party, "ram:SpecifiedTaxRegistration"), "ram:ID", seller["vat_number"], schemeID="VA"
    )  # BT-31

    buyer_party = _el(agreement, "ram:BuyerTradeParty")  # BG-7
    _el(buyer_party, "ram:Name", buyer["name"])  # BT-44
    if buyer.get("siren"):
        _el(
            _el(buyer_party, "ram:SpecifiedLegalOrganization"), "ram:ID", buyer["siren"], schemeID="0002"
        )  # BT-47
    _address(buyer_party, buyer["address"])
    if buyer.get("email"):
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
        _el(tax, "ram:RateApplicablePercent", _rate(rate["rate"]))  # BT-119
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", _payment_terms_text(document))  # BT-20
    if not document.is_credit_note:
        _date(terms, "ram:DueDateDateTime", document.due_date)  # BT-9
    totals = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")  # BG-22
    _el(totals, "ram:LineTotalAmount", _amount(document.total_excl_vat))  # BT-106
    _el(totals, "ram:TaxBasisTotalAmount", _amount(document.total_excl_vat))  # BT-109
    _el(totals, "ram:TaxTotalAmount", _amount(document.total_vat), currencyID=document.currency)  # BT-110
    _el(totals, "ram:GrandTotalAmount", _amount(document.total_incl_vat))  # BT-112
    _el(totals, "ram:DuePayableAmount", _amount(document.total_incl_vat))  # BT-115
    if document.corrects_id:
        preceding = _el(settlement, "ram:InvoiceReferencedDocument")  # BG-3
        _el(preceding, "ram:IssuerAssignedID", document.corrects.number)  # BT-25
        _date(preceding, "ram:FormattedIssueDateTime", document.corrects.issue_date, qualified=True)  # BT-26

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _seller_legal_text(seller: dict) -> str:
    return (
        f"{seller['legal_form']} au capital de {seller['share_capital']} EUR - RCS {seller['rcs_city']} "
        f"{seller['siren']} - SIRET {seller['siret']}"
    )


def _payment_terms_text(document: Invoice) -> str:
    seller = document.seller
    if document.is_credit_note:
        return "Avoir à déduire ou à rembourser."
    text = seller.get("payment_terms") or f"Paiement à {seller['payment_terms_days']} jours."
    return f"{text} Pas d'escompte pour paiement anticipé."


def _notes(document: Invoice) -> list[tuple[str, str]]:
    """Notes of the XML (UNTDID 4451 subjects): the legal ones French rules ask for."""
    seller = document.seller
    notes = [("REG", _seller_legal_text(seller))]
    if document.is_b2b and not document.is_credit_note:
        notes.append(
            (
                "PMD",
                f"En cas de retard de paiement, pénalités au taux annuel de {seller['late_penalty_rate']} % "
                "et indemnité forfaitaire pour frais de recouvrement de 40 EUR "
                "(art. L441-10 du Code de commerce).",
            )
        )
    notes.append(("AAB", "Pas d'escompte pour paiement anticipé."))
    if document.reason:
        notes.append(("AAI", document.reason))
    return notes
