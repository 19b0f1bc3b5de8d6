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
