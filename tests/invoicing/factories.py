"""Factories of the invoicing tests: a seller, orders whose units shipped (allocations consumed)."""

from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import Address
from inventory.models import Allocation
from invoicing.models import ChannelBilling, LegalEntity
from tests.inventory.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory, CustomerFactory, OrderFactory


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity

    name = "Maison Exemple"
    legal_form = "SAS"
    share_capital = Decimal("50000.00")
    address_line1 = "12 rue de la République"
    postcode = "69002"
    city = "Lyon"
    siren = "732829320"
    siret = factory.Sequence(lambda n: f"73282932{n:06d}")
    rcs_city = "Lyon"
    vat_number = "FR44732829320"
    email = "factures@exemple.fr"
    payment_terms_days = 30
    payment_terms = "Paiement par virement à 30 jours."
    iban = "FR7630006000011234567890189"
    bic = "AGRIFRPPXXX"
    bank_name = "Banque Exemple"
    is_default = True
    email_documents = False


def b2b_customer(**kwargs):
    defaults = {
        "email": "achats@dupont.fr",
        "first_name": "Claire",
        "last_name": "Dupont",
        "company": "Maison Dupont SARL",
        "siren": "552100554",
        "vat_number": "FR40552100554",
    }
    defaults.update(kwargs)
    customer = CustomerFactory(**defaults)
    Address.objects.create(
        customer=customer,
        kind="billing",
        line1="8 avenue Foch",
        postcode="75116",
        city="Paris",
        is_default=True,
    )
    return customer


def order_with_lines(*, lines=None, channel=None, customer=None, **kwargs):
    """An order (rows written directly) with lines ``[(sku, unit_price, vat_rate, quantity)]``, each allocated
    at one warehouse (not consumed)."""
    location = LocationFactory(code="lyon", kind="warehouse")
    lines = lines or [("TSHIRT-M", "19.90", "20.0", 2), ("CAFE-1KG", "14.50", "5.5", 1)]
    rows = []
    for sku, price, rate, quantity in lines:
        product = ProductFactory(sku=sku, price=Decimal(price), vat_rate=Decimal(rate), name=f"Produit {sku}")
        rows.append((product, quantity, location))
    extra = {}
    if channel is not None:
        extra["channel"] = channel
    if customer is not None:
        extra["customer"] = customer
    return OrderFactory(lines=rows, status="in_preparation", **extra, **kwargs)


def consume(order, *, quantities: dict | None = None):
    """Ship units: consume allocations (all, or ``{sku: units}`` by splitting allocations as packing does)."""
    now = timezone.now()
    for allocation in Allocation.objects.filter(line__order=order, consumed_at__isnull=True).select_related(
        "line"
    ):
        wanted = allocation.quantity if quantities is None else quantities.get(allocation.line.sku, 0)
        if wanted <= 0:
            continue
        if wanted < allocation.quantity:
            Allocation.objects.create(
                line=allocation.line,
                location=allocation.location,
                quantity=allocation.quantity - wanted,
                kind=allocation.kind,
            )
            allocation.quantity = wanted
        allocation.consumed_at = now
        allocation.save(update_fields=["quantity", "consumed_at"])


def channel_with_policy(policy: str, code: str = "web", entity=None):
    channel = ChannelFactory(code=code)
    ChannelBilling.objects.update_or_create(
        channel=channel, defaults={"issue_policy": policy, "legal_entity": entity}
    )
    return channel
