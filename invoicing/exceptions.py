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
