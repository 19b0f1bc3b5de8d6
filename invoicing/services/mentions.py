"""What the 2026 e-invoicing rules add to a document, decided once when it is issued and frozen on it:

- the **treatment** ("BAR" note of the French rules): a business in France gets an e-invoice through the
  seller's plateforme agréée (B2B), a public buyer through Chorus Pro (B2G); consumers (B2C, B2CINT) and
  businesses abroad (B2BINT) are e-reported instead;
- the **nature of the operations** (BT-23's letter: B goods, S services, M both) from the lines' products;
- the **format** the e-invoice travels in: the buyer's choice, else the seller's (Factur-X or UBL);
- the check that a B2B invoice carries the buyer's SIREN (BR-FR-11), refused with a clear message otherwise.

And the legal notes both XML syntaxes carry (UNTDID 4451 subjects the French rules require: PMT, PMD, AAB,
BAR, TXD for the VAT-on-debits option).
"""

from ..exceptions import BuyerSirenInvalid, BuyerSirenMissing
from ..models import BuyerProfile, EInvoiceFormat, Nature, Treatment

EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


def buyer_profile(customer) -> BuyerProfile | None:
    try:
        return customer.einvoicing_profile
    except BuyerProfile.DoesNotExist:
        return None


def buyer_country(customer, buyer: dict) -> str:
    vat = (customer.vat_number or "").upper()
    if customer.is_business and len(vat) > 2 and vat[:2].isalpha():
        return "GR" if vat[:2] == "EL" else vat[:2]
    return ((buyer.get("address") or {}).get("country") or "FR").upper()


def treatment_for(*, customer, buyer: dict, profile: BuyerProfile | None) -> str:
    if profile is not None and profile.is_public_buyer:
        return Treatment.B2G
    country = buyer_country(customer, buyer)
    if customer.is_business:
        return Treatment.B2B if country == "FR" else Treatment.B2BINT
    return Treatment.B2C if country == "FR" else Treatment.B2CINT


def nature_of(natures) -> str:
    kinds = set(natures)
    if kinds == {Nature.SERVICES}:
        return Nature.SERVICES
    if Nature.SERVICES in kinds:
        return Nature.MIXED
    return Nature.GOODS


def format_for(*, legal_entity, profile: BuyerProfile | None) -> str:
    if profile is not None and profile.einvoice_format:
        return profile.einvoice_format
    return legal_entity.einvoice_format or EInvoiceFormat.FACTURX


def siren_from_vat(vat_number: str) -> str:
    """The SIREN inside a French VAT number (FR + 2-character key + SIREN), else ""."""
    vat = (vat_number or "").replace(" ", "").upper()
    return vat[4:] if vat.startswith("FR") and len(vat) == 13 and vat[4:].isdigit() else ""


def check_buyer_identifiers(*, customer, treatment: str, order_number: str = "") -> None:
    """Refuse a B2B invoice whose buyer has no SIREN (or one that contradicts their French VAT number)."""
    if treatment not in (Treatment.B2B, Treatment.B2G):
        return
    details = {
        "customer": customer.pk,
        "email": customer.email,
        "company": customer.company,
        "vat_number": customer.vat_number,
        "suggested_siren": siren_from_vat(customer.vat_number),
        "order": order_number,
    }
    if not customer.siren:
        raise BuyerSirenMissing(
            "The business customer has no SIREN: since the 2026 e-invoicing rules a B2B invoice must "
            "carry it. "
            "Fill it in on the order's invoicing panel (or the customer in the admin), then issue "
            "the invoice.",
            details=details,
        )
    expected = siren_from_vat(customer.vat_number)
    if expected and expected != customer.siren:
        raise BuyerSirenInvalid(
            f"The customer's SIREN {customer.siren} does not match their VAT number {customer.vat_number} "
            f"(SIREN {expected}).",
            details=details,
        )


def electronic_address(*, siren: str, override: str = "") -> str:
    """The address in the e-invoicing directory (scheme 0225): the SIREN unless a routing suffix is set."""
    return override or siren


# --- Notes of the XML (both syntaxes) --------------------------------------------------------------------


def seller_legal_text(seller: dict) -> str:
    return (
        f"{seller['legal_form']} au capital de {seller['share_capital']} EUR - RCS {seller['rcs_city']} "
        f"{seller['siren']} - SIRET {seller['siret']}"
    )


def settlement(document) -> dict | None:
    """What was paid on an invoice when it is fully settled (paid at checkout, or since): ``{"amount",
    "date"}`` for the "acquittée" mention that replaces the due date; None while something is left to pay."""
    if document.is_credit_note or document.pk is None:
        return None
    if hasattr(document, "_settlement"):  # read once by the rendering, the document locked
        return document._settlement
    from django.db.models import Max, Sum

    paid = document.payments.aggregate(amount=Sum("amount"), date=Max("paid_on"))
    return settlement_of(document, amount=paid["amount"], date=paid["date"])


def settlement_of(document, *, amount, date) -> dict | None:
    """``settlement`` from what its payments add up to (``amount`` None: none), read by the caller."""
    if document.is_credit_note or not amount or amount < document.total_incl_vat:
        return None
    return {"amount": amount, "date": date}


def payment_terms_text(document) -> str:
    seller = document.seller
    if document.is_credit_note:
        return "Avoir à déduire ou à rembourser."
    settled = settlement(document)
    if settled:
        return (
            f"Facture acquittée le {settled['date']:%d/%m/%Y} : {settled['amount']} EUR payés. "
            "Pas d'escompte pour paiement anticipé."
        )
    text = seller.get("payment_terms") or f"Paiement à {seller['payment_terms_days']} jours."
    return f"{text} Pas d'escompte pour paiement anticipé."


VAT_ON_DEBITS_TEXT = "Option pour le paiement de la taxe d'après les débits."


def legal_notes(document) -> list[tuple[str, str]]:
    """(UNTDID 4451 subject, text) in the order of the French rules (BR-FR-05/06: PMT, PMD and AAB once each,
    BAR the treatment, TXD the VAT-on-debits option)."""
    seller = document.seller
    notes = [("REG", seller_legal_text(seller))]
    if document.is_b2b:
        notes.append(
            (
                "PMD",
                f"En cas de retard de paiement, pénalités au taux annuel de {seller['late_penalty_rate']} % "
                "exigibles dès le lendemain de l'échéance (art. L441-10 du Code de commerce).",
            )
        )
        notes.append(
            ("PMT", "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 EUR.")
        )
    else:
        notes.append(("PMD", "Pas de pénalité de retard (client non professionnel)."))
        notes.append(
            ("PMT", "Pas d'indemnité forfaitaire pour frais de recouvrement (client non professionnel).")
        )
    notes.append(("AAB", "Pas d'escompte pour paiement anticipé."))
    notes.append(("BAR", "B2B" if document.treatment == Treatment.B2G else document.treatment))
    if seller.get("vat_on_debits") and document.nature != Nature.GOODS:
        notes.append(("TXD", VAT_ON_DEBITS_TEXT))
    if document.reason:
        notes.append(("AAI", document.reason))
    return notes


def vat_due_on_invoice(document) -> bool:
    """BT-8 "VAT due on the invoice date": the VAT-on-debits option, for services."""
    return bool(document.seller.get("vat_on_debits")) and document.nature != Nature.GOODS


def buyer_reference(document) -> str:
    """BT-10: a public buyer's Chorus Pro service code, else the buyer's purchase order number."""
    return ((document.buyer.get("public") or {}).get("service_code")) or document.purchase_order
