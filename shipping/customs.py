"""Customs declarations (CN23 / commercial invoice) for parcels that leave the EU's VAT area: the French
overseas départements and territories (DOM-TOM: Guadeloupe, Martinique, Guyane, La Réunion, Mayotte, and the
collectivités d'outre-mer), the EU's other special territories (Canaries, Ceuta, Melilla, Åland, Heligoland,
Büsingen, Livigno, Campione, Mount Athos) and every country outside the EU (Switzerland, the United Kingdom,
Norway...). Monaco ships as France.

Each line needs its description, customs code (HS, 6 to 10 digits), country of origin, value and weight; a
declaration that lacks any of them is refused before the carrier is called, saying which product lacks
what, so staff fix the catalogue and ask for the label again."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from . import carriers

EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
# Countries that ship as another one (no customs between them).
SAME_AS = {"MC": "FR"}
# ISO codes of the French overseas territories (outside the EU's VAT area even when inside the EU).
FRENCH_OVERSEAS = frozenset("GP MQ GF RE YT PM BL MF WF PF NC TF".split())
# Postcodes of special territories inside EU member states: outside the EU's VAT area.
SPECIAL_POSTCODES = {
    # 971 Guadeloupe … 976 Mayotte; 975, 977, 978, 984, 986-988 the overseas collectivities (980 is Monaco)
    "FR": re.compile(r"^(97|98[4-9])"),
    "ES": re.compile(r"^(35|38|51|52)"),  # Las Palmas, Santa Cruz de Tenerife, Ceuta, Melilla
    "FI": re.compile(r"^22"),  # Åland
    "DE": re.compile(r"^(27498|78266)$"),  # Heligoland, Büsingen
    "IT": re.compile(r"^(23041|22061)$"),  # Livigno, Campione d'Italia
    "GR": re.compile(r"^63086$"),  # Mount Athos
}
HS_CODE = re.compile(r"^\d{6,10}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")


class CustomsIncomplete(carriers.PermanentCarrierError):
    """A declaration the carrier would refuse: ``details["products"]`` lists each product with what it
    lacks (``{"sku", "name", "missing": ["customs code", ...]}``)."""

    def __str__(self) -> str:  # our own refusal, for staff: no carrier prefix, no code
        return self.message


def territory(country: str, postcode: str = "") -> str:
    """The customs territory of an address: "EU" for the EU's VAT area, else the country, or the special
    territory inside an EU member state (each French overseas département its own: 971, 972...)."""
    country = (country or "FR").upper()
    country = SAME_AS.get(country, country)
    postcode = (postcode or "").replace(" ", "")
    if country in FRENCH_OVERSEAS or country not in EU:
        return country
    pattern = SPECIAL_POSTCODES.get(country)
    match = pattern.match(postcode) if pattern else None
    if match is None:
        return "EU"
    return f"{country}-{postcode[:3] if country == 'FR' else match.group(0)}"


def needs_customs(*, country: str, postcode: str = "", origin: str = "FR", origin_postcode: str = "") -> bool:
    """Whether a parcel from ``origin`` (metropolitan France by default) to this address crosses a customs
    border: from one customs territory to another (the EU's VAT area, a French overseas département or
    territory, an EU special territory, a country outside the EU)."""
    return territory(origin, origin_postcode) != territory(country, postcode)


def export_reason_default() -> str:
    reason = getattr(settings, "CUSTOMS_EXPORT_REASON", "sale")
    return reason if reason in carriers.EXPORT_REASONS else "sale"


def declaration_build(*, shipment, reason: str | None = None) -> carriers.CustomsDeclaration:
    """The declaration of a parcel from its lines (each product's customs code, origin and weight, the price
    paid for a unit). Raises ``CustomsIncomplete`` naming every product that lacks something."""
    lines = list(shipment.lines.select_related("product").order_by("pk"))
    problems = []
    customs_lines = []
    for line in lines:
        product = line.product
        missing = []
        if not (product.name or "").strip():
            missing.append(_("description"))
        if not HS_CODE.match(product.customs_code or ""):
            missing.append(_("customs code (HS)"))
        if not COUNTRY.match(product.origin_country or ""):
            missing.append(_("country of origin"))
        value = line.unit_value if line.unit_value is not None else None
        if value is None or value <= 0:
            missing.append(_("value"))
        if not product.weight_g:
            missing.append(_("weight"))
        if missing:
            problems.append({"sku": line.sku, "name": product.name, "missing": [str(m) for m in missing]})
            continue
        customs_lines.append(
            carriers.CustomsLine(
                description=product.name[:200],
                hs_code=product.customs_code,
                origin_country=product.origin_country,
                quantity=line.quantity,
                unit_value=Decimal(value).quantize(Decimal("0.01")),
                weight_g=product.weight_g * line.quantity,
                sku=line.sku,
            )
        )
    if problems:
        text = "; ".join(
            _("%(sku)s (%(name)s) lacks %(missing)s")
            % {"sku": p["sku"], "name": p["name"], "missing": ", ".join(p["missing"])}
            for p in problems
        )
        raise CustomsIncomplete(
            _(
                "Customs declaration refused: %(problems)s. "
                "Complete the products, then ask for the label again."
            )
            % {"problems": text},
            carrier="",
            code="customs_incomplete",
            details={"products": problems},
        )
    if not customs_lines:
        raise CustomsIncomplete(
            _("Customs declaration refused: the parcel has no line."), code="customs_incomplete"
        )
    return carriers.CustomsDeclaration(
        lines=tuple(customs_lines), reason=reason or export_reason_default(), invoice_number=shipment.number
    )


def declaration_json(declaration: carriers.CustomsDeclaration) -> dict:
    """What is kept on the shipment: the declaration as sent."""
    return {
        "reason": declaration.reason,
        "currency": declaration.currency,
        "total_value": str(declaration.total_value),
        "lines": [
            {
                "sku": line.sku,
                "description": line.description,
                "hs_code": line.hs_code,
                "origin_country": line.origin_country,
                "quantity": line.quantity,
                "unit_value": str(line.unit_value),
                "value": str(line.value),
                "weight_g": line.weight_g,
            }
            for line in declaration.lines
        ],
    }


REASON_LABELS = {
    "sale": ("Vente de marchandises", "Sale of goods"),
    "gift": ("Cadeau", "Gift"),
    "sample": ("Échantillon commercial", "Commercial sample"),
    "return": ("Retour de marchandises", "Returned goods"),
    "documents": ("Documents", "Documents"),
    "repair": ("Réparation", "Repair"),
    "other": ("Autre", "Other"),
}


def cn23_pdf(
    *,
    declaration: carriers.CustomsDeclaration,
    sender,
    recipient,
    reference: str,
    tracking_number: str,
    weight_g: int,
) -> bytes:
    """Our CN23 (déclaration en douane), printed with the label for carriers that take no customs lines:
    bilingual French / English as La Poste's form, one page."""
    from django.template.loader import render_to_string
    from weasyprint import HTML

    html = render_to_string(
        "shipping/labels/cn23.html",
        {
            "declaration": declaration,
            "reason": REASON_LABELS.get(declaration.reason, REASON_LABELS["other"]),
            "reasons": [(code, REASON_LABELS[code]) for code in REASON_LABELS],
            "sender": sender,
            "recipient": recipient,
            "reference": reference,
            "tracking_number": tracking_number,
            "gross_kg": f"{weight_g / 1000:.3f}",
            "net_kg": f"{declaration.total_weight_g / 1000:.3f}",
        },
    )
    return HTML(string=html).write_pdf()


def pdf_join(*documents: bytes | None) -> bytes:
    """Several PDFs as one (label, then customs papers): one click prints everything for the parcel."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for document in documents:
        if document:
            for page in PdfReader(io.BytesIO(document)).pages:
                writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
