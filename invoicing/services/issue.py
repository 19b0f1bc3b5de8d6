"""Issuing invoices and credit notes: what to invoice, the number, the frozen document.

Every function here runs inside the caller's transaction when there is one (the consumer ``invoicing.issue``
of the domain event log, after the order's change committed; the staff's pages); the number comes from a
``NumberSequence`` row locked in that same transaction, so a rollback gives the number back and nobody else
can take the next one meanwhile.
"""

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from common import jobs
from inventory.models import Allocation
from orders.locks import lock_order
from orders.models import Order, OrderLine
from orders.services.events import event_add
from orders.services.kits import line_units
from shipping.models import ShipmentLine, ShipmentStatus

from ..amounts import LineIn, apply_allowances, compute
from ..exceptions import (
    BuyerSirenInvalid,
    BuyerSirenMissing,
    CreditExceedsInvoice,
    NoLegalEntity,
    NothingToCredit,
    NothingToInvoice,
)
from ..models import (
    ChannelBilling,
    DocumentKind,
    Invoice,
    InvoiceLine,
    IssuePolicy,
    LegalEntity,
    Nature,
    PendingCredit,
)
from . import mentions

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")


# --- Settings of a channel -------------------------------------------------------------------------------


def billing_for_channel(*, channel_id: int) -> tuple[LegalEntity | None, str]:
    """(legal entity, issue policy) of a channel: its own, else the default entity and "when shipped"."""
    billing = ChannelBilling.objects.select_related("legal_entity").filter(channel_id=channel_id).first()
    policy = billing.issue_policy if billing else IssuePolicy.SHIPPED
    entity = billing.legal_entity if billing and billing.legal_entity_id else None
    if entity is None:
        entity = LegalEntity.objects.filter(is_default=True).first()
    return entity, policy


def billing_for_order(*, order_id: int) -> tuple[LegalEntity | None, str]:
    """``billing_for_channel`` of the order's channel, in one statement and without reading the order: the
    channel's own entity (ranked first) or the default one, with the channel's policy. Only when neither
    entity exists is the policy read on its own (an invoicing not set up: ``NoLegalEntity`` follows)."""
    channel = Subquery(Order.objects.filter(pk=order_id).values("channel_id"))
    own = ChannelBilling.objects.filter(channel_id=channel)
    entity = (
        LegalEntity.objects.filter(Q(is_default=True) | Q(pk__in=own.values("legal_entity_id")))
        .annotate(
            policy=Subquery(own.values("issue_policy")[:1]),
            own=Exists(own.filter(legal_entity_id=OuterRef("pk"))),
        )
        .order_by("-own")
        .first()
    )
    if entity is None:
        return None, own.values_list("issue_policy", flat=True).first() or IssuePolicy.SHIPPED
    return entity, entity.policy or IssuePolicy.SHIPPED


# --- Numbering -------------------------------------------------------------------------------------------


def sequence_next(*, legal_entity: LegalEntity, series: str, year: int) -> int:
    """The next number of a series, from its row locked until the end of the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next must run inside the transaction that creates the document")
    # One statement: the first document of a year creates the row (no race: ON CONFLICT), every other one
    # raises it; the row stays locked by the UPDATE until the caller's transaction ends (gapless), as the
    # SELECT ... FOR UPDATE then UPDATE it replaces held it (PostgreSQL and SQLite 3.35+).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO invoicing_numbersequence (legal_entity_id, series, year, last_number) "
            "VALUES (%s, %s, %s, 1) ON CONFLICT (legal_entity_id, series, year) "
            "DO UPDATE SET last_number = invoicing_numbersequence.last_number + 1 RETURNING last_number",
            [legal_entity.pk, series, year],
        )
        return cursor.fetchone()[0]


def format_number(series: str, year: int, number: int) -> str:
    return f"{series}-{year}-{number:06d}"


# --- Snapshots -------------------------------------------------------------------------------------------


def _address(obj, prefix: str = "") -> dict:
    return {
        "line1": getattr(obj, f"{prefix}line1", ""),
        "line2": getattr(obj, f"{prefix}line2", ""),
        "postcode": getattr(obj, f"{prefix}postcode", ""),
        "city": getattr(obj, f"{prefix}city", ""),
        "country": getattr(obj, f"{prefix}country", "") or "FR",
    }


def buyer_snapshot(order: Order) -> dict:
    """What the documents print about the buyer: name, company and identifiers, billing address (the address
    book's billing address, else the delivery address of a home delivery) and the delivery address."""
    customer = order.customer
    billing = customer.addresses.filter(kind="billing").order_by("-is_default", "-created_at").first() or (
        None
        if order.delivery_mode == "home"
        else customer.addresses.order_by("-is_default", "-created_at").first()
    )
    delivery = _address(order, "ship_")
    delivery["name"] = order.ship_name
    delivery["company"] = order.ship_company
    if order.delivery_mode == "relay" and order.relay_point:
        delivery["name"] = order.relay_point.get("name", "") or delivery["name"]
    elif order.delivery_mode == "store" and order.pickup_location_id:
        store = order.pickup_location
        delivery = {
            "name": store.name,
            "company": "",
            "line1": store.address_line1,
            "line2": "",
            "postcode": store.postcode,
            "city": store.city,
            "country": store.country or "FR",
        }
    address = (
        _address(billing) if billing else {k: v for k, v in delivery.items() if k not in ("name", "company")}
    )
    return {
        "name": customer.company or customer.full_name or customer.email,
        "contact": customer.full_name,
        "company": customer.company,
        "email": customer.email,
        "phone": customer.phone,
        "siren": customer.siren,
        "vat_number": customer.vat_number,
        "address": address,
        "delivery": delivery,
        "delivery_mode": order.delivery_mode,
        "delivery_differs": any(address.get(k) != delivery.get(k) for k in ("line1", "postcode", "city")),
    }


# --- Documents -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftLine:
    description: str
    quantity: int
    unit_price_incl_vat: Decimal
    vat_rate: Decimal
    sku: str = ""
    kind: str = InvoiceLine.Kind.PRODUCT
    nature: str = Nature.GOODS
    order_line_id: int | None = None
    invoice_line_id: int | None = None


def _schedule_render(document_id: int) -> None:
    from ..tasks import render_document as render_document_task

    jobs.enqueue_on_commit(render_document_task, document_id)


def _document_create(
    *,
    kind: str,
    legal_entity: LegalEntity,
    order: Order,
    lines: list[DraftLine],
    delivery_date: dt.date,
    corrects: Invoice | None = None,
    reason: str = "",
    actor=None,
    event_extra: dict | None = None,
    allowances: dict[Decimal, Decimal] | None = None,
    allowance_reason: str = "",
    allowance_natures: dict | None = None,
) -> Invoice:
    """``allowances``: document-level allowances incl. VAT per VAT rate (EN 16931 BG-20), taken off the
    totals, not the lines (a credit note of units after a goodwill refund: see ``credit_note_issue``)."""
    language = order.customer.language if order.customer.language in ("fr", "en") else "fr"
    with translation.override(language):
        reason = str(reason)
        allowance_reason = str(allowance_reason)
    amounts = compute([LineIn(line.unit_price_incl_vat, line.quantity, line.vat_rate) for line in lines])
    taken_off = (
        apply_allowances(amounts, allowances, reason=allowance_reason[:255], natures=allowance_natures)
        if allowances
        else []
    )
    customer = order.customer
    buyer = buyer_snapshot(order)
    profile = mentions.buyer_profile(customer)
    if corrects is not None:  # a credit note travels as its invoice did
        treatment, einvoice_format = corrects.treatment, corrects.einvoice_format
    else:
        treatment = mentions.treatment_for(customer=customer, buyer=buyer, profile=profile)
        einvoice_format = mentions.format_for(legal_entity=legal_entity, profile=profile)
        mentions.check_buyer_identifiers(customer=customer, treatment=treatment, order_number=order.number)
    if profile is not None and profile.is_public_buyer:
        buyer["public"] = {"siret": profile.siret, "service_code": profile.service_code}
    if profile is not None and profile.electronic_address:
        buyer["electronic_address"] = profile.electronic_address
    series = (
        legal_entity.credit_note_prefix if kind == DocumentKind.CREDIT_NOTE else legal_entity.invoice_prefix
    )
    # Nothing above writes (``_issue_quietly`` relies on it: its refusals are raised before any write).
    # The number last, right before the insert: the sequence row stays locked as briefly as possible.
    issue_date = timezone.localdate()
    number = sequence_next(legal_entity=legal_entity, series=series, year=issue_date.year)
    document = Invoice(
        kind=kind,
        number=format_number(series, issue_date.year, number),
        series=series,
        year=issue_date.year,
        sequence_number=number,
        legal_entity=legal_entity,
        order=order,
        channel_id=order.channel_id,
        customer=customer,
        corrects=corrects,
        reason=reason[:255],
        issue_date=issue_date,
        delivery_date=delivery_date,
        due_date=issue_date + dt.timedelta(days=legal_entity.payment_terms_days),
        language=language,
        currency=order.currency,
        is_b2b=customer.is_business,
        treatment=treatment,
        nature=mentions.nature_of(line.nature for line in lines),
        einvoice_format=einvoice_format,
        purchase_order=order.purchase_order,
        buyer_name=buyer["name"][:200],
        buyer_email=customer.email,
        seller=legal_entity.snapshot(),
        buyer=buyer,
        vat_breakdown=[rate.as_json() for rate in amounts.rates],
        allowances=[allowance.as_json() for allowance in taken_off],
        total_excl_vat=amounts.total_excl_vat,
        total_vat=amounts.total_vat,
        total_incl_vat=amounts.total_incl_vat,
        created_by=actor if getattr(actor, "pk", None) else None,
        job_due_at=jobs.due(),  # the rendering: queued on commit, and by the beat sweep if that is lost
    )
    if kind == DocumentKind.CREDIT_NOTE:
        document.kind = DocumentKind.CREDIT_NOTE
    document.save()
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                document=document,
                position=position,
                kind=draft.kind,
                nature=draft.nature,
                order_line_id=draft.order_line_id,
                invoice_line_id=draft.invoice_line_id,
                sku=draft.sku,
                description=draft.description[:255],
                quantity=draft.quantity,
                unit_price_incl_vat=computed.unit_price_incl_vat,
                unit_price_excl_vat=computed.unit_price_excl_vat,
                vat_rate=computed.vat_rate,
                total_excl_vat=computed.total_excl_vat,
                total_vat=computed.total_vat,
                total_incl_vat=computed.total_incl_vat,
            )
            for position, (draft, computed) in enumerate(zip(lines, amounts.lines, strict=True), start=1)
        ]
    )
    event_add(
        order=order,
        code="credit_note.issued" if kind == DocumentKind.CREDIT_NOTE else "invoice.issued",
        actor=actor,
        document=document.pk,
        number=document.number,
        invoice=corrects.number if corrects else None,
        total_incl_vat=document.total_incl_vat,
        **(event_extra or {}),
    )
    _schedule_render(document.pk)
    from .transmission import transmission_request_on_issue

    transmission_request_on_issue(document=document)
    return document


def invoiced_quantities(*, order_id: int) -> dict[int, int]:
    """Units of each order line already on an invoice of the order."""
    rows = (
        InvoiceLine.objects.filter(document__order_id=order_id, document__kind=DocumentKind.INVOICE)
        .exclude(order_line=None)
        .values("order_line_id")
        .annotate(quantity=Sum("quantity"))
    )
    return {row["order_line_id"]: row["quantity"] for row in rows}


def _line_description(line, *, language: str = "fr") -> str:
    """The order line's product name; a kit says what it is made of (one kit's components), in the
    document's language."""
    if not line.components:
        return line.name
    with translation.override(language if language in ("fr", "en") else "fr"):
        return gettext("%(name)s (kit: %(components)s)") % {
            "name": line.name,
            "components": ", ".join(f"{part['quantity']} × {part['sku']}" for part in line.components),
        }


def shipped_quantities(*, order_id: int) -> tuple[dict[int, int], dt.datetime | None]:
    """Units of each order line that left: consumed from stock (packed, or handed over at a store counter)
    minus those in parcels still waiting at the dock (not handed to their carrier yet), and when the last
    left."""
    consumed = (
        Allocation.objects.filter(order_id=order_id, consumed_at__isnull=False)
        .order_by()
        .values_list("line_id", "line__product_id", "product_id")
        .annotate(quantity=Sum("quantity"), last=Max("consumed_at"))
    )
    waiting = (
        ShipmentLine.objects.filter(
            shipment__order_id=order_id,
            shipment__status__in=[
                ShipmentStatus.CREATED,
                ShipmentStatus.LABELLED,
                ShipmentStatus.LABEL_FAILED,
            ],
        )
        .order_by()
        .values_list("order_line_id", "order_line__product_id", "product_id")
        .annotate(quantity=Sum("quantity"), last=Value(None, output_field=DateTimeField()))
    )
    # Both in one statement (UNION ALL): a row consumed from stock has its time, a parcel's waiting none.
    rows = list(consumed.union(waiting, all=True))
    # Units that left, by product of each line (a kit's line: its components, counted as whole kits).
    left: dict[tuple[int, int, int], int] = {}
    for line_id, line_product_id, product_id, quantity, last in rows:
        key = (line_id, line_product_id, product_id)
        left[key] = left.get(key, 0) + (quantity if last is not None else -quantity)
    shipped = line_units([(*key, max(0, units)) for key, units in left.items()])
    last = max((row[4] for row in rows if row[4] is not None), default=None)
    return shipped, last


@transaction.atomic
def invoice_issue_for_order(*, order: Order, scope: str = "shipped", actor=None) -> Invoice:
    """Invoice the units of an order that are due and not invoiced yet.

    ``scope`` "shipped": the units that left with a parcel (consumed allocations); "all": every unit of the
    order (issue on placement, or on delivery). Units already invoiced are never invoiced again: a second
    partial shipment invoices only the rest. Raises NothingToInvoice when nothing is left, NoLegalEntity when
    no entity invoices the channel."""
    order = lock_order(order.pk, related=("customer", "pickup_location"))
    drafts, delivery_date = _drafts_due(order=order, scope=scope)
    if not drafts:
        raise NothingToInvoice("Every unit due is already invoiced.", details={"order": order.number})
    return _invoice_drafts(order=order, drafts=drafts, delivery_date=delivery_date, actor=actor)


def _drafts_due(*, order: Order, scope: str) -> tuple[list[DraftLine], dt.date]:
    """The lines of the units due and not invoiced yet (the order locked), and the delivery date."""
    # each line with its units already invoiced (``invoiced_quantities``), in one statement
    lines = list(
        OrderLine.objects.filter(order=order)
        .select_related("product")
        .annotate(invoiced=Coalesce(Subquery(_invoiced_of_line(order.pk)), 0))
        .order_by("line_no")
    )
    already = {line.pk: line.invoiced for line in lines}
    if scope == "shipped":
        due, last_shipped = shipped_quantities(order_id=order.pk)
        delivery_date = timezone.localdate(last_shipped) if last_shipped else timezone.localdate()
    else:
        due = {line.pk: line.quantity for line in lines}
        delivery_date = timezone.localdate()
    drafts = []
    for line in lines:
        quantity = min(due.get(line.pk, 0), line.quantity) - already.get(line.pk, 0)
        if quantity > 0:
            drafts.append(
                DraftLine(
                    description=_line_description(line, language=order.customer.language),
                    sku=line.sku,
                    quantity=quantity,
                    unit_price_incl_vat=line.unit_price,
                    vat_rate=line.vat_rate,
                    nature=Nature.SERVICES if line.product.nature == "services" else Nature.GOODS,
                    order_line_id=line.pk,
                )
            )
    return drafts, delivery_date


def _invoice_drafts(
    *, order: Order, drafts: list[DraftLine], delivery_date: dt.date, actor=None, billing=None
) -> Invoice:
    """Issue the invoice of ``drafts`` (units due, the order locked), with the shipping line on the first."""
    shipping = shipping_draft(order=order)
    if shipping is not None:
        drafts.append(shipping)
    legal_entity, _policy = billing or billing_for_channel(channel_id=order.channel_id)
    if legal_entity is None:
        raise NoLegalEntity(
            "No legal entity invoices this channel: set one in the invoicing settings.",
            details={"order": order.number, "channel": order.channel_id},
        )
    document = _document_create(
        kind=DocumentKind.INVOICE,
        legal_entity=legal_entity,
        order=order,
        lines=drafts,
        delivery_date=delivery_date,
        actor=actor,
    )
    if order.amount_paid > 0:  # paid at checkout (or before): the invoice is settled as it is issued
        from .payments import invoices_settle_from_order

        invoices_settle_from_order(order=order, actor=actor)
    return document


def shipping_draft(*, order: Order) -> DraftLine | None:
    """The order's shipping charge, its own line on the first invoice (never on a second one)."""
    if order.shipping_fee <= 0:
        return None
    if InvoiceLine.objects.filter(
        document__order_id=order.pk, document__kind=DocumentKind.INVOICE, kind=InvoiceLine.Kind.SHIPPING
    ).exists():
        return None
    return _shipping_line(order=order)


def _shipping_line(*, order: Order) -> DraftLine:
    language = order.customer.language if order.customer.language in ("fr", "en") else "fr"
    with translation.override(language):
        description = str(_("Shipping: %(mode)s") % {"mode": order.get_delivery_mode_display()})
    return DraftLine(
        description=description,
        quantity=1,
        unit_price_incl_vat=order.shipping_fee,
        vat_rate=order.shipping_vat_rate,
        kind=InvoiceLine.Kind.SHIPPING,
        nature=Nature.GOODS,  # an accessory of the delivery of goods: it follows their nature
    )


def credited_quantities(*, invoice_id: int) -> dict[int, int]:
    """Units of each line of an invoice already credited by its credit notes."""
    rows = (
        InvoiceLine.objects.filter(document__corrects_id=invoice_id, document__kind=DocumentKind.CREDIT_NOTE)
        .values("invoice_line_id")
        .annotate(quantity=Sum("quantity"))
    )
    return {row["invoice_line_id"]: row["quantity"] for row in rows}


@transaction.atomic
def _invoice_to_credit(invoice: Invoice) -> Invoice:
    """The invoice a credit note is about to correct, locked (with its seller), or NothingToCredit for a
    document that is not an invoice."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("legal_entity", "order")
        .get(pk=invoice.pk)
    )
    if invoice.kind != DocumentKind.INVOICE:
        raise NothingToCredit("Only an invoice can be credited.", details={"number": invoice.number})
    return invoice


def _credit_note_create(
    *,
    invoice: Invoice,
    drafts: list[DraftLine],
    reason: str,
    actor,
    event_extra: dict | None,
    allowances: dict[Decimal, Decimal] | None = None,
    allowance_reason: str = "",
) -> Invoice:
    """A credit note of ``drafts`` correcting ``invoice`` (locked by ``_invoice_to_credit``): same seller and
    delivery date, numbered in the seller's credit-note series."""
    order = Order.objects.select_related("customer", "pickup_location").get(pk=invoice.order_id)
    return _document_create(
        kind=DocumentKind.CREDIT_NOTE,
        legal_entity=invoice.legal_entity,
        order=order,
        lines=drafts,
        delivery_date=invoice.delivery_date,
        corrects=invoice,
        reason=reason,
        actor=actor,
        event_extra=event_extra,
        allowances=allowances,
        allowance_reason=allowance_reason,
        allowance_natures=dict(invoice.lines.values_list("vat_rate", "nature")) if allowances else None,
    )


def _already_credited_as_amounts(invoice: Invoice, drafts: list[DraftLine]) -> tuple[dict, str]:
    """Units credited after an amount was given back on the invoice (a goodwill refund's credit note): at any
    VAT rate where the units would credit more than the invoice still holds, the difference is what the
    amounts already credited there, and it is taken off this credit note as a document-level allowance
    (EN 16931 BG-20) so the invoice is never credited more than it charged, rate by rate (the VAT given
    back is never more than the VAT collected). ``({rate: amount incl. VAT}, reason)``; nothing when the
    units fit, which is every credit note without a goodwill refund before it."""
    wanted: dict[Decimal, Decimal] = {}
    for draft in drafts:
        gross = (Decimal(draft.unit_price_incl_vat) * draft.quantity).quantize(CENT)
        wanted[draft.vat_rate] = wanted.get(draft.vat_rate, Decimal("0")) + gross
    room = amount_room_by_rate(invoice=invoice)
    excess = {rate: value - room.get(rate, Decimal("0")) for rate, value in wanted.items()}
    excess = {rate: value for rate, value in excess.items() if value > 0}
    if not excess:
        return {}, ""
    numbers = list(
        Invoice.objects.credit_notes()
        .filter(corrects=invoice, lines__kind=InvoiceLine.Kind.GOODWILL)
        .order_by("pk")
        .values_list("number", flat=True)
        .distinct()
    )
    with translation.override(invoice.language if invoice.language in ("fr", "en") else "fr"):
        reason = gettext("Commercial gesture already credited (%(numbers)s)") % {
            "numbers": ", ".join(numbers)
        }
    return excess, reason


def credit_note_issue(
    *,
    invoice: Invoice,
    quantities: dict[int, int] | None = None,
    include_shipping: bool = True,
    reason: str = "",
    actor=None,
    event_extra: dict | None = None,
) -> Invoice:
    """Issue a credit note (avoir) for an invoice: the whole of what is not credited yet (``quantities``
    None), or ``{invoice line id: units}`` (product lines; shipping lines follow ``include_shipping``).

    The returns feature calls this when a return is refunded. Raises CreditExceedsInvoice when more would be
    credited than a line holds (earlier credit notes counted), NothingToCredit when nothing would be."""
    invoice = _invoice_to_credit(invoice)
    lines = list(invoice.lines.order_by("position"))
    credited = credited_quantities(invoice_id=invoice.pk)
    wanted = dict(quantities or {})
    unknown = set(wanted) - {line.pk for line in lines}
    if unknown:
        raise CreditExceedsInvoice(
            "These lines are not lines of the invoice.",
            details={"lines": sorted(unknown), "number": invoice.number},
        )
    drafts = []
    for line in lines:
        left = line.quantity - credited.get(line.pk, 0)
        if line.pk in wanted:
            quantity = int(wanted[line.pk])
        elif line.kind == InvoiceLine.Kind.SHIPPING:
            quantity = left if include_shipping else 0
        else:
            quantity = left if quantities is None else 0
        if quantity < 0 or quantity > left:
            raise CreditExceedsInvoice(
                f"Line {line.position} has {left} unit(s) left to credit, not {quantity}.",
                details={"line": line.pk, "position": line.position, "left": left, "asked": quantity},
            )
        if quantity:
            drafts.append(
                DraftLine(
                    description=line.description,
                    sku=line.sku,
                    kind=line.kind,
                    nature=line.nature,
                    quantity=quantity,
                    unit_price_incl_vat=line.unit_price_incl_vat,
                    vat_rate=line.vat_rate,
                    order_line_id=line.order_line_id,
                    invoice_line_id=line.pk,
                )
            )
    if not drafts:
        raise NothingToCredit("Nothing left to credit on this invoice.", details={"number": invoice.number})
    allowances, allowance_reason = _already_credited_as_amounts(invoice, drafts)
    return _credit_note_create(
        invoice=invoice,
        drafts=drafts,
        reason=reason,
        actor=actor,
        event_extra=event_extra,
        allowances=allowances,
        allowance_reason=allowance_reason,
    )


def credit_notes_for_order(*, order: Order, reason: str = "", actor=None) -> list[Invoice]:
    """Credit everything still invoiced on an order (a cancelled order invoiced when placed)."""
    notes = []
    for invoice in Invoice.objects.invoices().filter(order=order).order_by("pk"):
        credited = credited_quantities(invoice_id=invoice.pk)
        if any(line.quantity > credited.get(line.pk, 0) for line in invoice.lines.all()):
            notes.append(
                credit_note_issue(
                    invoice=invoice, reason=reason, actor=actor, event_extra={"order_change": True}
                )
            )
    return notes


def credit_notes_for_order_change(*, order: Order, reason: str = "", actor=None) -> list[Invoice]:
    """Units cancelled or removed by an edit after they were invoiced (an order invoiced when placed): credit
    what the invoices still hold beyond each line's quantity (newest invoices first), and the shipping
    charge beyond the order's. Nothing when the invoices hold no more than the order does."""
    order = Order.objects.select_related("customer", "pickup_location").get(pk=order.pk)
    owed = {line.pk: line.quantity for line in OrderLine.objects.filter(order=order)}
    invoices = list(Invoice.objects.invoices().filter(order=order).order_by("-pk"))
    held: dict[int, int] = {}
    shipping_held = Decimal("0")
    per_invoice: dict[int, list] = {}
    for invoice in invoices:
        credited = credited_quantities(invoice_id=invoice.pk)
        rows = []
        for line in invoice.lines.order_by("position"):
            left = line.quantity - credited.get(line.pk, 0)
            if left <= 0:
                continue
            rows.append((line, left))
            if line.kind == InvoiceLine.Kind.SHIPPING:
                shipping_held += line.unit_price_incl_vat * left
            else:
                held[line.order_line_id] = held.get(line.order_line_id, 0) + left
        per_invoice[invoice.pk] = rows
    excess = {
        line_id: units - owed.get(line_id, 0)
        for line_id, units in held.items()
        if units > owed.get(line_id, 0)
    }
    # A shipping charge that changed (lowered, raised, or removed) is credited whole; when the order still
    # has one, ``invoice_issue_for_order_change`` invoices it again at its new amount.
    credit_shipping = shipping_held > 0 and shipping_held != order.shipping_fee
    notes = []
    for invoice in invoices:
        quantities = {}
        shipping_here = False
        for line, left in per_invoice[invoice.pk]:
            if line.kind == InvoiceLine.Kind.SHIPPING:
                shipping_here = shipping_here or credit_shipping
                continue
            units = min(left, excess.get(line.order_line_id, 0))
            if units > 0:
                quantities[line.pk] = units
                excess[line.order_line_id] -= units
        if quantities or shipping_here:
            notes.append(
                credit_note_issue(
                    invoice=invoice,
                    quantities=quantities,
                    include_shipping=shipping_here,
                    reason=reason,
                    actor=actor,
                    event_extra={"order_change": True},
                )
            )
            if shipping_here:
                credit_shipping = False
    return notes


def net_invoiced(*, order_id: int) -> tuple[dict[int, int], Decimal]:
    """What the order's invoices still hold once their credit notes are taken off: units of each order line,
    and the shipping charge (incl. VAT)."""
    rows = (
        InvoiceLine.objects.filter(document__order_id=order_id)
        .values("document__kind", "kind", "order_line_id")
        .annotate(quantity=Sum("quantity"), total=Sum("total_incl_vat"))
    )
    units: dict[int, int] = {}
    shipping = Decimal("0")
    for row in rows:
        sign = -1 if row["document__kind"] == DocumentKind.CREDIT_NOTE else 1
        if row["kind"] == InvoiceLine.Kind.SHIPPING:
            shipping += sign * row["total"]
        elif row["order_line_id"] is not None:
            units[row["order_line_id"]] = units.get(row["order_line_id"], 0) + sign * row["quantity"]
    return units, shipping


@transaction.atomic
def invoice_issue_for_order_change(*, order: Order, actor=None) -> Invoice | None:
    """An order invoiced when it was placed was edited: invoice what it now owes beyond what its invoices
    still hold (credit notes taken off), so that a line edited down (credited) and then up again, a line
    added or a shipping charge raised is invoiced. Runs after ``credit_notes_for_order_change`` (which
    credits what is held beyond the order), so the invoices minus the credit notes equal what the customer
    owes. Edits happen before picking: no unit has shipped or come back yet. Nothing for another issue
    policy (the units are invoiced when they ship or are delivered), a cancelled order, or an order whose
    placement invoice was never issued (no legal entity: the timeline says so)."""
    legal_entity, policy = billing_for_channel(channel_id=order.channel_id)
    if policy != IssuePolicy.PLACED or legal_entity is None:
        return None
    order = lock_order(order.pk, related=("customer", "pickup_location"))
    if order.status == "cancelled" or not Invoice.objects.invoices().filter(order=order).exists():
        return None
    held, shipping_held = net_invoiced(order_id=order.pk)
    drafts = []
    for line in OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"):
        quantity = line.quantity - held.get(line.pk, 0)
        if quantity > 0:
            drafts.append(
                DraftLine(
                    description=_line_description(line, language=order.customer.language),
                    sku=line.sku,
                    quantity=quantity,
                    unit_price_incl_vat=line.unit_price,
                    vat_rate=line.vat_rate,
                    nature=Nature.SERVICES if line.product.nature == "services" else Nature.GOODS,
                    order_line_id=line.pk,
                )
            )
    if order.shipping_fee > 0 and shipping_held <= 0:
        drafts.append(_shipping_line(order=order))
    if not drafts:
        return None
    document = _document_create(
        kind=DocumentKind.INVOICE,
        legal_entity=legal_entity,
        order=order,
        lines=drafts,
        delivery_date=timezone.localdate(),
        actor=actor,
    )
    if order.amount_paid > 0:
        from .payments import invoices_settle_from_order

        invoices_settle_from_order(order=order, actor=actor)
    return document


def credit_notes_for_return(
    *,
    order: Order,
    quantities: dict[int, int],
    include_shipping: bool,
    reason: str = "",
    actor=None,
    event_extra: dict | None = None,
) -> list[Invoice]:
    """Credit the returned units (``{order line id: units}``) on the order's invoices, oldest first, each
    invoice up to what it still holds; the shipping lines too when ``include_shipping`` (our fault). An
    order without invoice (not invoiced yet, no legal entity) gets no credit note."""
    wanted = {line_id: int(units) for line_id, units in quantities.items() if units}
    notes = []
    shipping_done = not include_shipping
    for invoice in Invoice.objects.invoices().filter(order=order).order_by("pk"):
        credited = credited_quantities(invoice_id=invoice.pk)
        per_line = {}
        has_shipping_left = False
        for line in invoice.lines.order_by("position"):
            left = line.quantity - credited.get(line.pk, 0)
            if line.kind == InvoiceLine.Kind.SHIPPING:
                has_shipping_left = has_shipping_left or left > 0
                continue
            units = min(left, wanted.get(line.order_line_id, 0))
            if units > 0:
                per_line[line.pk] = units
                wanted[line.order_line_id] -= units
        credit_shipping = not shipping_done and has_shipping_left
        if per_line or credit_shipping:
            notes.append(
                credit_note_issue(
                    invoice=invoice,
                    quantities=per_line,
                    include_shipping=credit_shipping,
                    reason=reason,
                    actor=actor,
                    event_extra=event_extra,
                )
            )
            shipping_done = shipping_done or credit_shipping
    return notes


def credit_notes_for_refund(
    *,
    order: Order,
    key: str,
    quantities: dict[int, int],
    include_shipping: bool,
    reason: str = "",
    actor=None,
    event_extra: dict | None = None,
) -> list[Invoice]:
    """A refund of units (a marketplace's): credited on the invoices that hold them; what no invoice holds
    yet (the order not invoiced yet by its channel's policy) waits as a ``PendingCredit``, credited right
    after the invoice is issued. Once per ``key``."""
    if PendingCredit.objects.filter(order=order, key=key[:100]).exists():
        return []  # already recorded (the event handled twice)
    wanted = {int(k): int(v) for k, v in quantities.items() if int(v)}
    before = invoiced_credit_room(order_id=order.pk)
    notes = credit_notes_for_return(
        order=order,
        quantities=wanted,
        include_shipping=include_shipping,
        reason=reason,
        actor=actor,
        event_extra=event_extra,
    )
    left = {k: max(v - before.get(k, 0), 0) for k, v in wanted.items()}
    left = {k: v for k, v in left.items() if v}
    shipping_left = include_shipping and not before.get("shipping")
    PendingCredit.objects.create(
        order=order,
        key=key[:100],
        quantities={str(k): v for k, v in left.items()},
        include_shipping=shipping_left,
        reason=reason[:255],
        event_extra=event_extra or {},
        credited_at=None if (left or shipping_left) else timezone.now(),
    )
    return notes


# --- Amounts given back without units (goodwill refunds) ---------------------------------------------------


def amount_room_by_rate(*, invoice: Invoice) -> dict[Decimal, Decimal]:
    """What an invoice still holds incl. VAT, per VAT rate: its lines less those of its credit notes."""
    room: dict[Decimal, Decimal] = {}
    rows = (
        InvoiceLine.objects.filter(document_id=invoice.pk)
        .values("vat_rate")
        .annotate(total=Sum("total_incl_vat"))
    )
    for row in rows:
        room[row["vat_rate"]] = room.get(row["vat_rate"], Decimal("0")) + row["total"]
    credited = (
        InvoiceLine.objects.filter(document__corrects_id=invoice.pk, document__kind=DocumentKind.CREDIT_NOTE)
        .values("vat_rate")
        .annotate(total=Sum("total_incl_vat"))
    )
    for row in credited:
        room[row["vat_rate"]] = room.get(row["vat_rate"], Decimal("0")) - row["total"]
    # What a credit note took off its own lines (an allowance: an amount credited before) was not credited.
    for allowances in (
        Invoice.objects.credit_notes()
        .filter(corrects_id=invoice.pk)
        .exclude(allowances=[])
        .values_list("allowances", flat=True)
    ):
        for allowance in allowances:
            rate = Decimal(allowance["rate"])
            room[rate] = room.get(rate, Decimal("0")) + Decimal(allowance["gross"])
    return {rate: value for rate, value in room.items() if value > 0}


def split_by_rate(amount: Decimal, room: dict[Decimal, Decimal]) -> dict[Decimal, Decimal]:
    """``amount`` spread over the VAT rates in proportion of what each still holds (to the cent: the cents
    left by rounding down go to the largest remainders, ties to the higher rate), never more than a rate
    holds. The caller checks ``amount`` is at most the sum of ``room``."""
    total = sum(room.values(), Decimal("0"))
    if total <= 0:
        return {}
    cents = int((amount * 100).to_integral_value())
    exact = {rate: Decimal(cents) * value / total for rate, value in room.items()}
    shares = {rate: int(value) for rate, value in exact.items()}  # rounded down (positive)
    missing = cents - sum(shares.values())
    for rate in sorted(exact, key=lambda r: (exact[r] - shares[r], r), reverse=True)[:missing]:
        shares[rate] += 1
    return {rate: (Decimal(c) / 100).quantize(CENT) for rate, c in shares.items() if c}


@transaction.atomic
def credit_note_for_amount(
    *, invoice: Invoice, amount: Decimal, reason: str = "", actor=None, event_extra: dict | None = None
) -> Invoice:
    """A credit note of an amount given back without units (a goodwill refund): one amount line per VAT rate
    of the invoice, split in proportion of what each rate still holds, so the VAT credited is the VAT the
    invoice charged on that part. Raises CreditExceedsInvoice above what the invoice still holds (its credit
    notes taken off), NothingToCredit for nothing."""
    invoice = _invoice_to_credit(invoice)
    amount = Decimal(amount).quantize(CENT)
    if amount <= 0:
        raise NothingToCredit("Nothing to credit.", details={"number": invoice.number})
    room = amount_room_by_rate(invoice=invoice)
    held = sum(room.values(), Decimal("0"))
    if amount > held:
        raise CreditExceedsInvoice(
            f"Invoice {invoice.number} holds {held} EUR still to credit, not {amount}.",
            details={"number": invoice.number, "left": str(held), "asked": str(amount)},
        )
    natures = dict(invoice.lines.values_list("vat_rate", "nature"))
    with translation.override(invoice.language if invoice.language in ("fr", "en") else "fr"):
        description = str(_("Commercial gesture"))
    drafts = [
        DraftLine(
            description=description,
            quantity=1,
            unit_price_incl_vat=share,
            vat_rate=rate,
            kind=InvoiceLine.Kind.GOODWILL,
            nature=natures.get(rate, Nature.GOODS),
        )
        for rate, share in sorted(split_by_rate(amount, room).items(), reverse=True)
    ]
    return _credit_note_create(
        invoice=invoice, drafts=drafts, reason=reason, actor=actor, event_extra=event_extra
    )


def _credit_amount(*, order: Order, amount: Decimal, reason: str, actor, event_extra) -> tuple[list, Decimal]:
    """Credit ``amount`` on the order's invoices, oldest first, each up to what it still holds: (credit notes,
    what no invoice holds)."""
    notes, left = [], Decimal(amount).quantize(CENT)
    for invoice in Invoice.objects.invoices().filter(order=order).order_by("pk"):
        if left <= 0:
            break
        take = min(left, sum(amount_room_by_rate(invoice=invoice).values(), Decimal("0")))
        if take <= 0:
            continue
        notes.append(
            credit_note_for_amount(
                invoice=invoice, amount=take, reason=reason, actor=actor, event_extra=event_extra
            )
        )
        left -= take
    return notes, left


def credit_notes_for_amount(
    *, order: Order, key: str, amount: Decimal, reason: str = "", actor=None, event_extra: dict | None = None
) -> list[Invoice]:
    """An amount given back without units (a goodwill refund): credited on the order's invoices; what they do
    not hold yet (the order not invoiced yet by its channel's policy) waits as a ``PendingCredit``, credited
    right after the invoice is issued. Once per ``key``."""
    if PendingCredit.objects.filter(order=order, key=key[:100]).exists():
        return []  # already recorded (the event handled twice)
    notes, left = _credit_amount(
        order=order, amount=amount, reason=reason, actor=actor, event_extra=event_extra
    )
    PendingCredit.objects.create(
        order=order,
        key=key[:100],
        quantities={},
        amount=max(left, Decimal("0")),
        reason=reason[:255],
        event_extra=event_extra or {},
        credited_at=None if left > 0 else timezone.now(),
    )
    return notes


def invoiced_credit_room(*, order_id: int) -> dict:
    """Units of each order line its invoices still hold (invoiced less credited), and whether a shipping
    charge is still held (``"shipping"``)."""
    room: dict = {}
    for invoice in Invoice.objects.invoices().filter(order_id=order_id).prefetch_related("lines"):
        credited = credited_quantities(invoice_id=invoice.pk)
        for line in invoice.lines.all():
            left = line.quantity - credited.get(line.pk, 0)
            if line.kind == InvoiceLine.Kind.SHIPPING:
                room["shipping"] = room.get("shipping", False) or left > 0
            elif line.order_line_id:
                room[line.order_line_id] = room.get(line.order_line_id, 0) + left
    return room


def pending_credits_apply(*, order: Order, actor=None) -> list[Invoice]:
    """After an invoice of the order is issued: credit the refunds that waited for it (what the invoices now
    hold of them), in the order they were made."""
    notes: list[Invoice] = []
    pending = PendingCredit.objects.select_for_update().filter(order=order, credited_at__isnull=True)
    for row in pending.order_by("pk"):
        if row.amount > 0:  # an amount without units: credited as far as the invoices now hold it
            made, left = _credit_amount(
                order=order, amount=row.amount, reason=row.reason, actor=actor, event_extra=row.event_extra
            )
            notes += made
            PendingCredit.objects.filter(pk=row.pk).update(
                amount=max(left, Decimal("0")), credited_at=None if left > 0 else timezone.now()
            )
            continue
        wanted = {int(k): int(v) for k, v in row.quantities.items() if int(v)}
        room = invoiced_credit_room(order_id=order.pk)
        take = {k: min(v, room.get(k, 0)) for k, v in wanted.items()}
        take = {k: v for k, v in take.items() if v}
        shipping = row.include_shipping and bool(room.get("shipping"))
        if not take and not shipping:
            continue
        notes += credit_notes_for_return(
            order=order,
            quantities=take,
            include_shipping=shipping,
            reason=row.reason,
            actor=actor,
            event_extra=row.event_extra,
        )
        left = {k: wanted[k] - take.get(k, 0) for k in wanted if wanted[k] - take.get(k, 0)}
        still_shipping = row.include_shipping and not shipping
        PendingCredit.objects.filter(pk=row.pk).update(
            quantities={str(k): v for k, v in left.items()},
            include_shipping=still_shipping,
            credited_at=None if (left or still_shipping) else timezone.now(),
        )
    return notes


# --- What the orders' events trigger (consumer invoicing.issue) ---------------------------------------


def _invoiced_of_line(order_id: int):
    """The units of the outer order line on the order's invoices (``invoiced_quantities``, as a subquery)."""
    return (
        InvoiceLine.objects.filter(
            document__order_id=order_id, document__kind=DocumentKind.INVOICE, order_line_id=OuterRef("pk")
        )
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values("n")
    )


def _owes_units(*, order_id: int) -> bool:
    """Whether a line of the order has units no invoice holds yet (one statement). False: nothing can be
    due, whatever shipped (``_drafts_due`` caps what is due at the line's quantity)."""
    invoiced = Coalesce(Subquery(_invoiced_of_line(order_id)), 0)
    return OrderLine.objects.filter(order_id=order_id, quantity__gt=invoiced).exists()


def _issue_quietly(
    *, order: Order, scope: str, actor=None, billing=None, locked: bool = False
) -> Invoice | None:
    """Issue what is due: a missing legal entity or nothing left to invoice never stops the order's own
    change (it is written on the timeline instead). ``locked``: the caller (the ``invoicing.issue``
    consumer, whose transaction the event log runs again on failure) locked the order (with its customer
    and pickup location), and no savepoint is taken; otherwise the issue runs in one."""
    # "Nothing left to invoice" (the hand-over issued it, then the move to shipped asks again) is decided
    # before the savepoint: a savepoint rolled back makes psycopg forget (DEALLOCATE ALL) every statement
    # prepared on the connection. The order's lock is the consumer transaction's, as it was on success.
    if not locked:
        order = lock_order(order.pk, related=("customer", "pickup_location"))
    drafts, delivery_date = _drafts_due(order=order, scope=scope)
    if not drafts:
        return None
    try:
        # The refusals caught below are raised before the first write (``_invoice_drafts``: no legal
        # entity; ``_document_create``: the buyer's identifiers, checked before the number is taken), so
        # the consumer's own transaction (``locked``: it holds the order's lock) needs no savepoint of
        # ours; any other failure rolls that transaction back and the event log runs the event again.
        with transaction.atomic() if not locked else contextlib.nullcontext():
            invoice = _invoice_drafts(
                order=order, drafts=drafts, delivery_date=delivery_date, actor=actor, billing=billing
            )
            # refunds made before this invoice existed: their credit notes right after it
            pending_credits_apply(order=order, actor=actor)
            return invoice
    except (BuyerSirenMissing, BuyerSirenInvalid) as exc:
        from ..timeline import timeline_add

        timeline_add(
            order=order,
            code="einvoice_siren_missing",
            params={
                "company": exc.details.get("company", ""),
                "vat_number": exc.details.get("vat_number", ""),
            },
            actor=actor,
        )
        return None
    except NoLegalEntity:
        logger.warning("order %s: no legal entity invoices channel %s", order.number, order.channel_id)
        event_add(order=order, code="invoice.not_issued", actor=actor, reason="no_legal_entity")
        return None


# the order events (its creation, its new statuses) that an issue policy acts on in ``on_order_event``
ORDER_EVENTS_THAT_ISSUE = frozenset({"created", "partially_shipped", "shipped", "delivered"})


def on_order_event(*, order: Order, event: str, actor=None) -> Invoice | None:
    """What an order event means for invoicing, by the channel's issue policy. ``event`` is "created", or
    the order's new status."""
    if event not in ORDER_EVENTS_THAT_ISSUE:
        return None
    billing = billing_for_channel(channel_id=order.channel_id)  # read once: the issue reuses it
    scope = _scope_of(event, billing[1])
    if scope is None:
        return None
    return _issue_quietly(order=order, scope=scope, actor=actor, billing=billing)


def _scope_of(event: str, policy: str) -> str | None:
    """What an order event issues under an issue policy: "all" (every unit), "shipped" or nothing."""
    if event == "created" and policy == IssuePolicy.PLACED:
        return "all"
    if event in ("partially_shipped", "shipped") and policy == IssuePolicy.SHIPPED:
        return "shipped"
    if event == "delivered" and policy == IssuePolicy.DELIVERED:
        return "all"
    if event == "delivered" and policy == IssuePolicy.SHIPPED:
        # A store pickup or a parcel whose shipping was not recorded unit by unit: catch up what shipped.
        return "shipped"
    return None


def on_order_event_for(*, order_id: int, event: str, actor=None) -> Invoice | None:
    """``on_order_event`` for the consumer, from the order's id: the channel's billing is read first (one
    statement, ``billing_for_order``) and the order only when the policy issues on this event, locked
    at once (it was read, then locked). The moves to shipped and to delivered usually follow a hand-over
    whose invoice covered every unit: ``_owes_units`` answers them in one statement."""
    if event not in ORDER_EVENTS_THAT_ISSUE:
        return None
    if event in ("shipped", "delivered") and not _owes_units(order_id=order_id):
        # Every unit of every line invoiced (the hand-over's invoice): nothing is due under any policy (at
        # delivery too: "when delivered" issues every unit, "when shipped" catches up what shipped, both
        # capped at what is not invoiced yet), and nothing the order's lock would hold off can change that
        # (lines change only through an edit, with its own event; invoices only add units). One statement,
        # neither billing nor the order read, no lock.
        return None
    billing = billing_for_order(order_id=order_id)
    scope = _scope_of(event, billing[1])
    if scope is None:
        return None
    # with what the document reads of them: the customer's e-invoicing profile (``mentions.buyer_profile``)
    order = lock_order(order_id, related=("customer__einvoicing_profile", "pickup_location", "channel"))
    return _issue_quietly(
        order=order,
        scope=scope,
        actor=actor,
        billing=billing,
        locked=True,
    )


def invoice_issue_now(*, order: Order, actor=None) -> Invoice | None:
    """Issue what an order's channel policy says is due now (after the buyer's SIREN was filled in)."""
    _entity, policy = billing_for_channel(channel_id=order.channel_id)
    scope = "shipped" if policy == IssuePolicy.SHIPPED else "all"
    if policy == IssuePolicy.DELIVERED and order.status != "delivered":
        return None
    try:
        with transaction.atomic():
            invoice = invoice_issue_for_order(order=order, scope=scope, actor=actor)
            pending_credits_apply(order=order, actor=actor)
            return invoice
    except NothingToInvoice:
        return None
