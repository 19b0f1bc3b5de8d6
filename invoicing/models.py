"""Invoices and credit notes (avoirs) as French law and the EN 16931 e-invoicing reform want them.

- ``LegalEntity``: the seller (one or several companies); ``ChannelBilling`` says which entity invoices a
  channel's orders and when (the issue policy).
- ``NumberSequence``: one row per (entity, series, year), locked in the transaction that issues a document, so
  numbers are unique, chronological and without gaps (a rollback gives its number back).
- ``Invoice``: an invoice or a credit note (``kind``), with ``InvoiceLine`` rows; ``CreditNote`` is the proxy
  of the credit notes. Everything that is on the document is frozen at issue time: the amounts, the lines, the
  seller and buyer snapshots. Only the rendering state (status, files, sending) changes afterwards. The model
  refuses other changes and deletion; on PostgreSQL a trigger refuses them too (migration 0002).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.exceptions import DomainError
from common.models import QueuedJob

siren_validator = RegexValidator(r"^[0-9]{9}$", _("A SIREN is 9 digits."))
siret_validator = RegexValidator(r"^[0-9]{14}$", _("A SIRET is 14 digits."))
vat_validator = RegexValidator(
    r"^[A-Z]{2}[0-9A-Z]{2,13}$", _("An intra-EU VAT number starts with the country code, e.g. FR40552100554.")
)
prefix_validator = RegexValidator(r"^[A-Z]{1,6}$", _("1 to 6 capital letters, e.g. FA."))


HALF_MILLI = Decimal("0.001")


class IssuePolicy(models.TextChoices):
    SHIPPED = "shipped", _("When the order ships (what shipped)")
    PLACED = "placed", _("When the order is placed")
    DELIVERED = "delivered", _("When the order is delivered")


class EInvoiceFormat(models.TextChoices):
    """The structured format an invoice travels in (both EN 16931)."""

    FACTURX = "facturx", _("Factur-X (PDF/A-3 with CII XML)")
    UBL = "ubl", _("UBL 2.1 XML")


class VatRegime(models.TextChoices):
    """The seller's VAT regime: it sets the e-reporting periods and deadlines."""

    REAL_MONTHLY = "real_monthly", _("Real regime, monthly returns")
    REAL_QUARTERLY = "real_quarterly", _("Real regime, quarterly returns")
    SIMPLIFIED = "simplified", _("Simplified regime (yearly return)")
    FRANCHISE = "franchise", _("VAT exemption (franchise en base)")


class Platform(models.TextChoices):
    """The plateforme agréée (PA) that carries a seller's e-invoices and e-reporting."""

    NONE = "", _("None (no transmission)")
    SANDBOX = "sandbox", _("Sandbox platform (demo and tests)")
    SUPERPDP = "superpdp", _("SUPER PDP")


class LegalEntity(models.Model):
    """A seller: the company whose name, identifiers and bank details are printed on its documents."""

    name = models.CharField(_("company name"), max_length=200)
    legal_form = models.CharField(_("legal form"), max_length=60, help_text=_("e.g. SAS, SARL, SA."))
    share_capital = models.DecimalField(
        _("share capital (EUR)"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    address_line1 = models.CharField(_("head office address"), max_length=200)
    address_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=2, default="FR")
    siren = models.CharField(_("SIREN"), max_length=9, validators=[siren_validator])
    siret = models.CharField(_("SIRET"), max_length=14, validators=[siret_validator])
    rcs_city = models.CharField(_("RCS city"), max_length=80, help_text=_("Registry of the RCS, e.g. Lyon."))
    vat_number = models.CharField(_("VAT number"), max_length=20, validators=[vat_validator])
    email = models.EmailField(_("billing email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    logo = models.ImageField(_("logo"), upload_to="invoicing/logos/", blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(
        _("payment term (days)"), default=30, help_text=_("Due date = issue date + these days.")
    )
    payment_terms = models.CharField(
        _("payment terms"),
        max_length=255,
        blank=True,
        help_text=_("Printed as is, e.g. “Payment by bank transfer within 30 days”."),
    )
    late_penalty_rate = models.DecimalField(
        _("late-payment penalty rate (% a year)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("12.00"),
        help_text=_("At least three times the legal interest rate (B2B invoices)."),
    )
    bank_name = models.CharField(_("bank"), max_length=120, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    invoice_prefix = models.CharField(
        _("invoice prefix"), max_length=6, default="FA", validators=[prefix_validator]
    )
    credit_note_prefix = models.CharField(
        _("credit note prefix"), max_length=6, default="AV", validators=[prefix_validator]
    )
    footer = models.CharField(_("footer note"), max_length=255, blank=True)
    vat_on_debits = models.BooleanField(
        _("VAT on debits"),
        default=False,
        help_text=_(
            "The company opted to pay VAT on services when invoicing rather than when paid "
            "(“option pour le paiement de la taxe d’après les débits”): printed on invoices."
        ),
    )
    vat_regime = models.CharField(
        _("VAT regime"), max_length=16, choices=VatRegime.choices, default=VatRegime.REAL_MONTHLY
    )
    einvoice_format = models.CharField(
        _("e-invoice format"),
        max_length=8,
        choices=EInvoiceFormat.choices,
        default=EInvoiceFormat.FACTURX,
        help_text=_("What business customers receive, unless a customer asks for another format."),
    )
    platform = models.CharField(
        _("plateforme agréée"),
        max_length=16,
        choices=Platform.choices,
        default=Platform.NONE,
        blank=True,
        help_text=_(
            "Business invoices are sent to it when issued, and e-reporting through it. Its credentials "
            "are read from the server's settings."
        ),
    )
    email_documents = models.BooleanField(
        _("email documents to customers"),
        default=True,
        help_text=_("Send each invoice and credit note to the customer by email once it is rendered."),
    )
    is_default = models.BooleanField(
        _("default entity"),
        default=False,
        help_text=_("Invoices the channels that have no entity of their own."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("legal entity")
        verbose_name_plural = _("legal entities")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_entity"
            ),
            models.UniqueConstraint(fields=["siret"], name="legalentity_siret_unique"),
            models.CheckConstraint(
                condition=~Q(invoice_prefix=F("credit_note_prefix")), name="entity_prefixes_differ"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rcs(self) -> str:
        return f"RCS {self.rcs_city} {self.siren}"

    def snapshot(self) -> dict:
        """What its documents print about the seller, frozen at issue time."""
        return {
            "name": self.name,
            "legal_form": self.legal_form,
            "share_capital": str(self.share_capital),
            "address_line1": self.address_line1,
            "address_line2": self.address_line2,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "siren": self.siren,
            "siret": self.siret,
            "rcs_city": self.rcs_city,
            "vat_number": self.vat_number,
            "email": self.email,
            "phone": self.phone,
            "website": self.website,
            "logo": self.logo.name if self.logo else "",
            "payment_terms_days": self.payment_terms_days,
            "payment_terms": self.payment_terms,
            "late_penalty_rate": str(self.late_penalty_rate),
            "bank_name": self.bank_name,
            "iban": self.iban,
            "bic": self.bic,
            "footer": self.footer,
            "vat_on_debits": self.vat_on_debits,
        }


class ChannelBilling(models.Model):
    """Which entity invoices a channel's orders, and when. A channel without one uses the default entity and
    invoices what shipped."""

    channel = models.OneToOneField(
        "orders.Channel", on_delete=models.CASCADE, related_name="billing", verbose_name=_("channel")
    )
    legal_entity = models.ForeignKey(
        LegalEntity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="channels",
        verbose_name=_("legal entity"),
        help_text=_("Empty: the default entity."),
    )
    issue_policy = models.CharField(
        _("issue the invoice"), max_length=16, choices=IssuePolicy.choices, default=IssuePolicy.SHIPPED
    )

    class Meta:
        verbose_name = _("channel billing")
        verbose_name_plural = _("channel billing")

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.issue_policy}"


class NumberSequence(models.Model):
    """The last number given in a series (prefix) of an entity for a year. Locked with SELECT ... FOR UPDATE
    by the transaction that issues a document: the next issuer waits for its commit or rollback."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="sequences")
    series = models.CharField(_("series"), max_length=6)
    year = models.PositiveSmallIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        ordering = ["legal_entity", "series", "year"]
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "series", "year"], name="sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: {self.last_number}"


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")


class Treatment(models.TextChoices):
    """How a document is handled by the e-invoicing reform (the "BAR" note of the French rules): B2B invoices
    travel through a PA, B2G ones through Chorus Pro, the others are e-reported."""

    B2B = "B2B", _("Business in France (e-invoice)")
    B2G = "B2G", _("Public buyer (Chorus Pro)")
    B2BINT = "B2BINT", _("Business abroad (e-reported)")
    B2C = "B2C", _("Consumer (e-reported)")
    B2CINT = "B2CINT", _("Consumer abroad (e-reported)")


class Nature(models.TextChoices):
    """Nature of the operations (BT-23's letter): goods, services or both."""

    GOODS = "goods", _("Goods")
    SERVICES = "services", _("Services")
    MIXED = "mixed", _("Goods and services")


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("Rendering")
    ISSUED = "issued", _("Issued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Rendering failed")


class ImmutableDocument(DomainError):
    """An issued invoice or credit note cannot be changed or deleted: issue a credit note instead."""

    code = "document_immutable"


class InvoiceQuerySet(models.QuerySet):
    def delete(self):
        raise ImmutableDocument("Issued invoices and credit notes are never deleted.")

    def update(self, **kwargs):
        frozen = set(kwargs) - set(Invoice.MUTABLE_FIELDS)
        if frozen:
            raise ImmutableDocument(
                "Issued invoices and credit notes are never changed.", details={"fields": sorted(frozen)}
            )
        return super().update(**kwargs)

    def invoices(self):
        return self.filter(kind=DocumentKind.INVOICE)

    def credit_notes(self):
        return self.filter(kind=DocumentKind.CREDIT_NOTE)


class Invoice(QueuedJob):
    """An invoice or a credit note: numbered, dated, its amounts and both parties frozen when issued."""

    Kind = DocumentKind
    Status = DocumentStatus
    # What may change after issue: the rendering and sending state (and the rendering job's, QueuedJob).
    # Everything else is the document.
    MUTABLE_FIELDS = (
        "status",
        "pdf",
        "xml",
        "ubl",
        "rendered_at",
        "render_error",
        "sent_at",
        "job_due_at",
        "job_lease_until",
        "job_attempts",
    )

    kind = models.CharField(
        _("type"), max_length=16, choices=DocumentKind.choices, default=DocumentKind.INVOICE
    )
    number = models.CharField(_("number"), max_length=32)
    series = models.CharField(_("series"), max_length=6)
    year = models.PositiveSmallIntegerField(_("year"))
    sequence_number = models.PositiveIntegerField(_("sequence number"))
    legal_entity = models.ForeignKey(
        LegalEntity, on_delete=models.PROTECT, related_name="documents", verbose_name=_("seller")
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="invoicing_documents", verbose_name=_("order")
    )
    channel = models.ForeignKey(
        "orders.Channel", on_delete=models.PROTECT, related_name="+", verbose_name=_("channel")
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name=_("corrected invoice"),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    issue_date = models.DateField(_("issue date"))
    delivery_date = models.DateField(_("date of sale or delivery"))
    due_date = models.DateField(_("due date"))
    language = models.CharField(_("language"), max_length=2, default="fr")
    currency = models.CharField(max_length=3, default="EUR")
    is_b2b = models.BooleanField(_("business customer"), default=False)
    purchase_order = models.CharField(_("purchase order number"), max_length=100, blank=True)
    treatment = models.CharField(
        _("e-invoicing treatment"), max_length=8, choices=Treatment.choices, default=Treatment.B2C
    )
    nature = models.CharField(
        _("nature of operations"), max_length=8, choices=Nature.choices, default=Nature.GOODS
    )
    einvoice_format = models.CharField(
        _("e-invoice format"), max_length=8, choices=EInvoiceFormat.choices, default=EInvoiceFormat.FACTURX
    )
    buyer_name = models.CharField(_("buyer"), max_length=200)
    buyer_email = models.EmailField(_("buyer email"), max_length=254)
    seller = models.JSONField(_("seller snapshot"))
    buyer = models.JSONField(_("buyer snapshot"))
    vat_breakdown = models.JSONField(_("VAT breakdown"), default=list)
    # Document-level allowances (EN 16931 BG-20), one per VAT rate: ``amounts.AllowanceAmounts.as_json()``.
    # The totals below are net of them; the lines are not.
    allowances = models.JSONField(_("document-level allowances"), default=list, blank=True)
    total_excl_vat = models.DecimalField(_("total excl. VAT"), max_digits=12, decimal_places=2)
    total_vat = models.DecimalField(_("VAT"), max_digits=12, decimal_places=2)
    total_incl_vat = models.DecimalField(_("total incl. VAT"), max_digits=12, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING
    )
    pdf = models.FileField(_("PDF"), upload_to="invoicing/%Y/%m/", blank=True)
    xml = models.FileField(_("Factur-X XML"), upload_to="invoicing/%Y/%m/", blank=True)
    ubl = models.FileField(_("UBL XML"), upload_to="invoicing/%Y/%m/", blank=True)
    rendered_at = models.DateTimeField(_("rendered at"), null=True, blank=True)
    render_error = models.TextField(_("rendering error"), blank=True)
    sent_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("issued at"), auto_now_add=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "number"], name="document_number_unique"),
            models.UniqueConstraint(
                fields=["legal_entity", "series", "year", "sequence_number"], name="document_sequence_unique"
            ),
            models.CheckConstraint(
                # Within a tenth of a cent rather than "=": SQLite (make run) compares decimals as floats;
                # on PostgreSQL's numeric(…, 2) both mean the same.
                condition=Q(total_incl_vat__gte=F("total_excl_vat") + F("total_vat") - HALF_MILLI)
                & Q(total_incl_vat__lte=F("total_excl_vat") + F("total_vat") + HALF_MILLI),
                name="document_totals_add_up",
            ),
            models.CheckConstraint(
                condition=Q(total_excl_vat__gte=0, total_vat__gte=0), name="document_amounts_not_negative"
            ),
            models.CheckConstraint(
                condition=(Q(kind="invoice") & Q(corrects__isnull=True))
                | (Q(kind="credit_note") & Q(corrects__isnull=False)),
                name="credit_note_corrects_an_invoice",
            ),
        ]
        indexes = [
            models.Index(fields=["treatment", "delivery_date"], name="document_treatment_date_idx"),
            models.Index(fields=["issue_date", "id"], name="document_issue_date_idx"),
            models.Index(fields=["channel", "issue_date"], name="document_channel_date_idx"),
            models.Index(fields=["buyer_email"], name="document_buyer_email_idx"),
        ]
        permissions = [
            ("issue_credit_note", _("Can issue credit notes")),
            ("send_invoice", _("Can send invoices to customers")),
            ("export_invoices", _("Can export invoices for the accountant")),
            ("record_payment", _("Can record payments on invoices")),
            ("manage_einvoicing", _("Can transmit e-invoices and review e-reporting")),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or set(update_fields) - set(self.MUTABLE_FIELDS):
                raise ImmutableDocument(
                    "Issued invoices and credit notes are never changed: issue a credit note.",
                    details={"number": self.number},
                )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableDocument(
            "Issued invoices and credit notes are never deleted.", details={"number": self.number}
        )

    @property
    def is_credit_note(self) -> bool:
        return self.kind == DocumentKind.CREDIT_NOTE

    @property
    def allowance_total_excl_vat(self) -> Decimal:
        """EN 16931 BT-107: the document-level allowances excl. VAT."""
        return sum((Decimal(a["base"]) for a in self.allowances or ()), Decimal("0.00"))

    @property
    def allowance_total_incl_vat(self) -> Decimal:
        return sum((Decimal(a["gross"]) for a in self.allowances or ()), Decimal("0.00"))

    @property
    def lines_total_excl_vat(self) -> Decimal:
        """EN 16931 BT-106: the sum of the lines' net amounts (the total excl. VAT before the allowances)."""
        return self.total_excl_vat + self.allowance_total_excl_vat

    @property
    def type_code(self) -> str:
        """EN 16931 BT-3 (UNTDID 1001): 380 commercial invoice, 381 credit note."""
        return "381" if self.is_credit_note else "380"

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"

    @property
    def bt23(self) -> str:
        """EN 16931 BT-23 in the French rules ("cadre de facturation"): B1 goods, S1 services, M1 both."""
        return {Nature.GOODS: "B1", Nature.SERVICES: "S1"}.get(self.nature, "M1")

    @property
    def is_einvoice(self) -> bool:
        """Travels as an e-invoice (a PA or Chorus Pro) rather than being e-reported."""
        return self.treatment in (Treatment.B2B, Treatment.B2G)

    @property
    def is_ereported(self) -> bool:
        return not self.is_einvoice


class CreditNoteManager(models.Manager.from_queryset(InvoiceQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(kind=DocumentKind.CREDIT_NOTE)


class CreditNote(Invoice):
    """The credit notes (avoirs): type code 381, referring to the invoice they correct."""

    objects = CreditNoteManager()

    class Meta:
        proxy = True
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")

    def save(self, *args, **kwargs):
        self.kind = DocumentKind.CREDIT_NOTE
        super().save(*args, **kwargs)


class InvoiceLine(models.Model):
    """A line of a document: a product line of the order (or shipping), its quantity and amounts."""

    class Kind(models.TextChoices):
        PRODUCT = "product", _("Product")
        SHIPPING = "shipping", _("Shipping")
        GOODWILL = "goodwill", _("Commercial gesture")

    document = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("line"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PRODUCT)
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, null=True, blank=True, related_name="invoice_lines"
    )
    invoice_line = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credited_by",
        help_text=_("On a credit note: the invoice line it credits."),
    )
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    nature = models.CharField(_("nature"), max_length=8, choices=Nature.choices, default=Nature.GOODS)
    description = models.CharField(_("description"), max_length=255)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_incl_vat = models.DecimalField(_("unit price incl. VAT"), max_digits=10, decimal_places=2)
    unit_price_excl_vat = models.DecimalField(_("unit price excl. VAT"), max_digits=12, decimal_places=4)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=4, decimal_places=1)
    total_excl_vat = models.DecimalField(_("total excl. VAT"), max_digits=12, decimal_places=2)
    total_vat = models.DecimalField(_("VAT"), max_digits=12, decimal_places=2)
    total_incl_vat = models.DecimalField(_("total incl. VAT"), max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["document", "position"]
        verbose_name = _("document line")
        verbose_name_plural = _("document lines")
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="documentline_position_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="documentline_quantity_positive"),
            models.CheckConstraint(
                # Within a tenth of a cent rather than "=": SQLite (make run) compares decimals as floats;
                # on PostgreSQL's numeric(…, 2) both mean the same.
                condition=Q(total_incl_vat__gte=F("total_excl_vat") + F("total_vat") - HALF_MILLI)
                & Q(total_incl_vat__lte=F("total_excl_vat") + F("total_vat") + HALF_MILLI),
                name="documentline_totals_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}/{self.position} {self.quantity} × {self.description}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableDocument("The lines of an issued document are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableDocument("The lines of an issued document are never deleted.")


class DocumentDelivery(QueuedJob):
    """One email of a document to the customer (first sending or a re-send): the task that sends it checks
    it was not sent already, so a retried task never sends twice."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    document = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="deliveries")
    email = models.EmailField(_("email"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("document email")
        verbose_name_plural = _("document emails")

    def __str__(self) -> str:
        return f"{self.document_id} → {self.email} ({self.status})"


class InvoiceExport(QueuedJob):
    """An export of a period for the accountant: CSV and XLSX (one row per document and VAT rate) and a ZIP
    of the PDFs, built by a Celery task that reports its progress."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("In progress")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    channel = models.ForeignKey(
        "orders.Channel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    legal_entity = models.ForeignKey(
        LegalEntity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("seller"),
    )

    class Kind(models.TextChoices):
        DOCUMENTS = "documents", _("Documents (CSV, XLSX, PDFs)")
        FEC = "fec", _("FEC (fichier des écritures comptables)")

    kind = models.CharField(_("export"), max_length=16, choices=Kind.choices, default=Kind.DOCUMENTS)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(_("documents"), default=0)
    done = models.PositiveIntegerField(_("processed"), default=0)
    csv = models.FileField(upload_to="invoicing/exports/", blank=True)
    xlsx = models.FileField(upload_to="invoicing/exports/", blank=True)
    zip = models.FileField(upload_to="invoicing/exports/", blank=True)
    fec = models.FileField(upload_to="invoicing/exports/", blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invoice export")
        verbose_name_plural = _("invoice exports")
        constraints = [
            models.CheckConstraint(condition=Q(date_from__lte=F("date_to")), name="export_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.date_from}…{self.date_to} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


# --- E-invoicing reform: buyers, accounts, transmissions, lifecycle, payments, e-reporting -----------------


class BuyerProfile(models.Model):
    """What invoicing knows of a buyer beyond the customer record: the e-invoice format they want, and for a
    public buyer (State, local authority, hospital…) what Chorus Pro needs."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="einvoicing_profile"
    )
    einvoice_format = models.CharField(
        _("e-invoice format"),
        max_length=8,
        choices=EInvoiceFormat.choices,
        blank=True,
        help_text=_("Empty: the seller's format."),
    )
    is_public_buyer = models.BooleanField(
        _("public buyer"), default=False, help_text=_("Invoices go to Chorus Pro (B2G).")
    )
    siret = models.CharField(
        _("SIRET of the public structure"), max_length=14, blank=True, validators=[siret_validator]
    )
    service_code = models.CharField(_("Chorus Pro service code"), max_length=100, blank=True)
    electronic_address = models.CharField(
        _("electronic address"),
        max_length=125,
        blank=True,
        help_text=_(
            "As in the e-invoicing directory (SIREN, SIREN_SIRET or SIREN_SUFFIX). Empty: the SIREN."
        ),
    )

    class Meta:
        verbose_name = _("buyer e-invoicing profile")
        verbose_name_plural = _("buyer e-invoicing profiles")
        constraints = [
            models.CheckConstraint(
                condition=Q(is_public_buyer=False) | ~Q(siret=""), name="public_buyer_has_siret"
            ),
        ]

    def __str__(self) -> str:
        return str(self.customer_id)


class ChartOfAccounts(models.Model):
    """The accounts a seller's FEC uses (plan comptable général by default)."""

    legal_entity = models.OneToOneField(LegalEntity, on_delete=models.CASCADE, related_name="accounts")
    sales_journal = models.CharField(_("sales journal code"), max_length=8, default="VE")
    bank_journal = models.CharField(_("bank journal code"), max_length=8, default="BQ")
    customers = models.CharField(_("customers (receivable)"), max_length=20, default="411000")
    goods = models.CharField(_("sales of goods"), max_length=20, default="707000")
    services = models.CharField(_("sales of services"), max_length=20, default="706000")
    shipping = models.CharField(_("shipping charged"), max_length=20, default="708500")
    vat_20 = models.CharField(_("VAT collected at 20 %"), max_length=20, default="445712")
    vat_10 = models.CharField(_("VAT collected at 10 %"), max_length=20, default="445711")
    vat_5_5 = models.CharField(_("VAT collected at 5.5 %"), max_length=20, default="445713")
    vat_2_1 = models.CharField(_("VAT collected at 2.1 %"), max_length=20, default="445714")
    bank = models.CharField(_("bank"), max_length=20, default="512000")

    class Meta:
        verbose_name = _("chart of accounts")
        verbose_name_plural = _("charts of accounts")

    def __str__(self) -> str:
        return f"{self.legal_entity_id}"

    def vat_account(self, rate) -> str:
        key = f"{Decimal(rate):.1f}"
        return {"20.0": self.vat_20, "10.0": self.vat_10, "5.5": self.vat_5_5, "2.1": self.vat_2_1}.get(
            key, self.vat_20
        )


class LifecycleCode(models.TextChoices):
    """Lifecycle statuses of an e-invoice (French "cycle de vie" codes). 200, 210, 212 and 213 are the
    mandatory ones."""

    DEPOSITED = "200", _("Deposited")
    ISSUED = "201", _("Issued by the platform")
    RECEIVED = "202", _("Received by the buyer's platform")
    MADE_AVAILABLE = "203", _("Made available to the buyer")
    TAKEN_OVER = "204", _("Taken over by the buyer")
    APPROVED = "205", _("Approved")
    PARTIALLY_APPROVED = "206", _("Partially approved")
    DISPUTED = "207", _("Disputed")
    SUSPENDED = "208", _("Suspended")
    COMPLETED = "209", _("Completed")
    REFUSED = "210", _("Refused by the buyer")
    PAYMENT_SENT = "211", _("Payment sent")
    COLLECTED = "212", _("Collected")
    REJECTED = "213", _("Rejected by the platform")


PROBLEM_CODES = (LifecycleCode.REFUSED, LifecycleCode.REJECTED)


class Transmission(models.Model):
    """One thing to send to a platform: a document, a status of ours ("collected"), or an e-report. Its state
    lives here, so a task that is retried, or queued again by the beat sweep, never sends it twice: the sender
    claims the row (pending → sending) before calling the platform and records the platform's id after."""

    class Kind(models.TextChoices):
        DOCUMENT = "document", _("Document")
        STATUS = "status", _("Status")
        EREPORT = "ereport", _("E-report")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Refused by the platform")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    platform = models.CharField(_("platform"), max_length=16)
    document = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="transmissions"
    )
    payment = models.ForeignKey(
        "Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="transmissions"
    )
    report = models.ForeignKey(
        "EReport", on_delete=models.PROTECT, null=True, blank=True, related_name="transmissions"
    )
    status_code = models.CharField(max_length=3, choices=LifecycleCode.choices, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    platform_ref = models.CharField(_("platform reference"), max_length=100, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("transmission")
        verbose_name_plural = _("transmissions")
        constraints = [
            models.UniqueConstraint(
                fields=["document"], condition=Q(kind="document"), name="transmission_one_per_document"
            ),
            models.UniqueConstraint(
                fields=["payment"], condition=Q(kind="status"), name="transmission_one_per_payment"
            ),
            models.UniqueConstraint(
                fields=["report"], condition=Q(kind="ereport"), name="transmission_one_per_report"
            ),
            models.CheckConstraint(
                condition=(Q(kind="document") & Q(document__isnull=False))
                | (Q(kind="status") & Q(document__isnull=False) & ~Q(status_code=""))
                | (Q(kind="ereport") & Q(report__isnull=False)),
                name="transmission_kind_has_target",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="transmission_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.state})"

    @property
    def external_id(self) -> str:
        """Our id of this sending, given to the platform (≤ 36 characters) so it can refuse a duplicate."""
        return f"oms-transmission-{self.pk}"


class LifecycleEvent(models.Model):
    """A lifecycle status of a document, as the platform reported it (by polling or webhook) or as we sent it
    ("collected"). Stored once: by the platform's event id, else by (document, code, time)."""

    class Source(models.TextChoices):
        POLL = "poll", _("Platform (polled)")
        WEBHOOK = "webhook", _("Platform (webhook)")
        SELLER = "seller", _("Us")

    document = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lifecycle")
    code = models.CharField(_("status"), max_length=3, choices=LifecycleCode.choices)
    at = models.DateTimeField(_("date"))
    reason = models.TextField(_("reason"), blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    platform = models.CharField(_("platform"), max_length=16)
    platform_event_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("lifecycle status")
        verbose_name_plural = _("lifecycle statuses")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_event_id"],
                condition=~Q(platform_event_id=""),
                name="lifecycle_platform_event_unique",
            ),
            models.UniqueConstraint(
                fields=["document", "code", "at"], name="lifecycle_document_code_at_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} {self.code} {self.at:%Y-%m-%d}"

    @property
    def is_problem(self) -> bool:
        return self.code in PROBLEM_CODES


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", _("Bank transfer")
    CARD = "card", _("Card")
    DIRECT_DEBIT = "direct_debit", _("Direct debit")
    CHEQUE = "cheque", _("Cheque")
    CASH = "cash", _("Cash")
    OTHER = "other", _("Other")


class Payment(models.Model):
    """A payment received for an invoice (date, amount, method): settles it, feeds the FEC's bank journal, and
    where the rules want it, the "collected" status or the payment e-reporting."""

    document = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    paid_on = models.DateField(_("paid on"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    method = models.CharField(_("method"), max_length=16, choices=PaymentMethod.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["paid_on", "id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        indexes = [models.Index(fields=["paid_on", "id"], name="payment_paid_on_idx")]

    def __str__(self) -> str:
        return f"{self.document_id}: {self.amount} on {self.paid_on}"


class EReport(models.Model):
    """An e-report of a period: the B2C and cross-border sales (transactions) or the payments of services, as
    the seller's VAT regime wants them. A correction (version 2, 3…) replaces the report it corrects when a
    late document changes a period already sent."""

    class Kind(models.TextChoices):
        TRANSACTIONS = "transactions", _("Transactions")
        PAYMENTS = "payments", _("Payments")

    class Status(models.TextChoices):
        DRAFT = "draft", _("To review")
        QUEUED = "queued", _("Queued for sending")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        REPLACED = "replaced", _("Replaced by a correction")

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="ereports")
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    due_on = models.DateField(_("deadline"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    total_base = models.DecimalField(_("total excl. VAT"), max_digits=14, decimal_places=2, default=0)
    total_vat = models.DecimalField(_("VAT"), max_digits=14, decimal_places=2, default=0)
    total_paid = models.DecimalField(_("collected"), max_digits=14, decimal_places=2, default=0)
    documents = models.ManyToManyField(Invoice, related_name="ereports", blank=True)
    payments = models.ManyToManyField(Payment, related_name="ereports", blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    error = models.TextField(_("platform message"), blank=True)
    generated_at = models.DateTimeField(_("generated at"), auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "kind", "-version"]
        verbose_name = _("e-report")
        verbose_name_plural = _("e-reports")
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "kind", "period_start", "version"], name="ereport_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(period_start__lte=F("period_end")), name="ereport_period_ordered"
            ),
            models.CheckConstraint(
                condition=(Q(version=1) & Q(corrects__isnull=True))
                | (Q(version__gt=1) & Q(corrects__isnull=False)),
                name="ereport_correction_refers",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start}…{self.period_end} v{self.version}"


class EReportLine(models.Model):
    """A line of an e-report: B2C sales of a day by category and VAT rate, one cross-border invoice by rate,
    or
    the payments of a day by VAT rate. Credit notes count negative."""

    report = models.ForeignKey(EReport, on_delete=models.CASCADE, related_name="lines")
    day = models.DateField(_("day"))
    treatment = models.CharField(_("treatment"), max_length=8, choices=Treatment.choices)
    category = models.CharField(_("category"), max_length=8)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=4, decimal_places=1)
    base = models.DecimalField(_("excl. VAT"), max_digits=14, decimal_places=2, default=0)
    vat = models.DecimalField(_("VAT"), max_digits=14, decimal_places=2, default=0)
    amount = models.DecimalField(_("collected incl. VAT"), max_digits=14, decimal_places=2, default=0)
    count = models.PositiveIntegerField(_("documents"), default=0)
    document = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["day", "treatment", "category", "-vat_rate", "id"]
        verbose_name = _("e-report line")
        verbose_name_plural = _("e-report lines")

    def __str__(self) -> str:
        return f"{self.day} {self.category} {self.vat_rate}"


class PlatformState(models.Model):
    """Per platform, the cursor of its lifecycle events already read (polling resumes from it)."""

    platform = models.CharField(max_length=16, primary_key=True)
    cursor = models.CharField(max_length=100, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("platform polling state")
        verbose_name_plural = _("platform polling states")

    def __str__(self) -> str:
        return f"{self.platform}: {self.cursor}"


class SandboxMessage(models.Model):
    """What the sandbox platform received (its own side of the exchange, kept in our database so the demo and
    the tests run without any outside service)."""

    external_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16)  # document, ereport
    number = models.CharField(max_length=64, blank=True)
    syntax = models.CharField(max_length=16, blank=True)
    content = models.BinaryField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox platform message")
        verbose_name_plural = _("sandbox platform messages")

    def __str__(self) -> str:
        return f"SBX-{self.pk} {self.number}"


class SandboxEvent(models.Model):
    """A lifecycle event on the sandbox platform's side; its id is the polling cursor."""

    message = models.ForeignKey(SandboxMessage, on_delete=models.CASCADE, related_name="events")
    code = models.CharField(max_length=3)
    at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("sandbox platform event")
        verbose_name_plural = _("sandbox platform events")

    def __str__(self) -> str:
        return f"{self.message_id} {self.code}"


class PendingCredit(models.Model):
    """A refund recorded before the order's invoice was issued (a marketplace's refund of units not invoiced
    yet): nothing to correct yet, so it waits here, and the credit note is issued right after the invoice that
    holds those units (``services.issue.pending_credits_apply``). Without it, the refund would be lost for the
    accountant (invoices less credit notes would exceed what the buyer finally paid)."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("refund"), max_length=100)
    quantities = models.JSONField(_("units still to credit"), default=dict)  # {order line id: units}
    include_shipping = models.BooleanField(default=False)
    # An amount given back without units (a goodwill refund): credited on the invoice as an amount line.
    amount = models.DecimalField(
        _("amount still to credit"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    event_extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("refund waiting for its invoice")
        verbose_name_plural = _("refunds waiting for their invoice")
        constraints = [models.UniqueConstraint(fields=["order", "key"], name="pending_credit_once")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.key}"
