from common.exceptions import DomainError
from inventory.exceptions import InvalidQuantity, OutOfStock  # noqa: F401 - part of the intake's contract


class DuplicateOrder(DomainError):
    """An order with this external id already exists for this channel."""

    code = "duplicate_order"
    status_code = 409


class InvalidTransition(DomainError):
    """The order's status does not allow this change."""

    code = "invalid_transition"
    status_code = 409


class UnknownProduct(DomainError):
    """A line names a SKU that does not exist or is not sold any more."""

    code = "unknown_sku"
    status_code = 422


class UnknownLocation(DomainError):
    """No such location."""

    code = "unknown_location"
    status_code = 422


class InvalidOrder(DomainError):
    """The order cannot be taken as it is (delivery data missing, no line...)."""

    code = "validation_error"
    status_code = 422


class MalformedPayload(InvalidOrder):
    """A channel's payload is not shaped as the channel documents it (a list where an object is expected, a
    field of the wrong type...): it is kept as a failed delivery, never retried by itself."""

    code = "malformed_payload"


class IdempotencyKeyReused(DomainError):
    """This Idempotency-Key was already used with another request body."""

    code = "idempotency_key_reused"
    status_code = 422


class IdempotencyKeyInProgress(DomainError):
    """A request with this Idempotency-Key is still being processed; retry later."""

    code = "idempotency_key_in_progress"
    status_code = 409


class AccountHasOpenOrders(DomainError):
    """The customer asked to erase their data while orders are still on their way."""

    code = "account_has_open_orders"
    status_code = 409


class PaymentRefused(DomainError):
    """The payment cannot be recorded as asked (an amount above what is left to pay, an unknown status)."""

    code = "payment_refused"
    status_code = 422


class EditRefused(DomainError):
    """The order cannot be changed this way now (picking has started, a line already shipped...). The
    message says why and what can be done instead."""

    code = "edit_refused"
    status_code = 409


class OrderOnHold(DomainError):
    """The order is on hold: it is not released to picking until the hold is cleared."""

    code = "order_on_hold"
    status_code = 409


class RefundRefused(DomainError):
    """The amount cannot be given back on this order (nothing paid or invoiced yet, more than what is left,
    a cancelled order)."""

    code = "refund_refused"
    status_code = 409
