"""Domain errors of the invoicing app (mapped to the API error format and to form messages by the edges)."""

from common.exceptions import DomainError

from .models import ImmutableDocument

__all__ = [
    "ImmutableDocument",
    "NoLegalEntity",
    "NothingToInvoice",
    "NothingToCredit",
    "CreditExceedsInvoice",
    "DocumentNotRendered",
    "BuyerSirenMissing",
    "BuyerSirenInvalid",
    "PaymentRefused",
    "TransmissionNotPossible",
    "EReportNotSendable",
]


class NoLegalEntity(DomainError):
    """No legal entity invoices this channel: set one in the invoicing settings."""

    code = "no_legal_entity"


class NothingToInvoice(DomainError):
    """Every unit that may be invoiced already is."""

    code = "nothing_to_invoice"


class NothingToCredit(DomainError):
    """The credit note would have no line."""

    code = "nothing_to_credit"
    status_code = 422


class CreditExceedsInvoice(DomainError):
    """More would be credited than the invoice line holds (counting earlier credit notes)."""

    code = "credit_exceeds_invoice"
    status_code = 422


class DocumentNotRendered(DomainError):
    """The document's PDF is not ready yet."""

    code = "document_not_rendered"


class BuyerSirenMissing(DomainError):
    """A business customer in France must be invoiced with their SIREN (2026 e-invoicing rules)."""

    code = "buyer_siren_missing"
    status_code = 422


class BuyerSirenInvalid(DomainError):
    """The customer's SIREN does not match their French VAT number."""

    code = "buyer_siren_invalid"
    status_code = 422


class PaymentRefused(DomainError):
    """A payment that cannot be recorded (a credit note, more than what is left to pay, a date in the
    future)."""

    code = "payment_refused"
    status_code = 422


class TransmissionNotPossible(DomainError):
    """The document cannot be sent to a platform (not an e-invoice, no platform set, already sent)."""

    code = "transmission_not_possible"
    status_code = 409


class EReportNotSendable(DomainError):
    """The e-report is not in a state that can be sent."""

    code = "ereport_not_sendable"
    status_code = 409
