"""Shared inputs of the carrier adapter tests."""

from shipping.carriers import Address, LabelRequest

SENDER = Address(
    name="Service expéditions",
    company="Boutique Exemple SARL",
    line1="27 rue Henri Rolland",
    postcode="69100",
    city="Villeurbanne",
    phone="+33482538457",
    email="expeditions@example.fr",
)
RECIPIENT = Address(
    name="Victor Hugo",
    line1="6 place des Vosges",
    postcode="75004",
    city="Paris",
    phone="+33600000000",
    email="hugo.victor@example.com",
)


def label_request(**overrides) -> LabelRequest:
    values = {
        "reference": "CMD-000123-1",
        "sender": SENDER,
        "recipient": RECIPIENT,
        "weight_g": 1200,
        "service_code": "domicile",
        "deposit_date": "2026-11-25",
    }
    values.update(overrides)
    return LabelRequest(**values)


def customs_declaration(reason: str = "sale"):
    """Two lines, as a parcel to Geneva or Fort-de-France carries them."""
    from decimal import Decimal

    from shipping.carriers import CustomsDeclaration, CustomsLine

    return CustomsDeclaration(
        lines=(
            CustomsLine(
                description="T-shirt coton bio",
                hs_code="610910",
                origin_country="PT",
                quantity=2,
                unit_value=Decimal("19.90"),
                weight_g=400,
                sku="SHIRT",
            ),
            CustomsLine(
                description="Mug en grès",
                hs_code="691200",
                origin_country="FR",
                quantity=1,
                unit_value=Decimal("14.50"),
                weight_g=450,
                sku="MUG",
            ),
        ),
        reason=reason,
        invoice_number="CMD-000123-1",
    )


GENEVA = Address(
    name="Jeanne Favre",
    line1="12 rue du Rhône",
    postcode="1204",
    city="Genève",
    country="CH",
    phone="+41221234567",
    email="jeanne@example.ch",
)
FORT_DE_FRANCE = Address(
    name="Aimé Césaire",
    line1="2 rue Victor Hugo",
    postcode="97200",
    city="Fort-de-France",
    country="FR",
    phone="+596696123456",
    email="aime@example.mq",
)
