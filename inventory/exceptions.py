from common.exceptions import DomainError


class OutOfStock(DomainError):
    """Not enough stock to reserve."""

    code = "out_of_stock"
    status_code = 409


class InsufficientStock(DomainError):
    """The operation would take on-hand stock below zero or below what is reserved."""

    code = "insufficient_stock"
    status_code = 409


class InvalidQuantity(DomainError):
    """Quantities must be whole numbers greater than zero."""

    code = "invalid_quantity"
    status_code = 422


class IncomingStockClosed(DomainError):
    """This replenishment is already received or cancelled."""

    code = "incoming_closed"
    status_code = 409


class KitRefused(DomainError):
    """A kit's composition is not possible (a component that is itself a kit, a kit with stock of its own…),
    or a stock operation was asked of a kit (kits have no stock: their components do)."""

    code = "invalid_kit"
    status_code = 422
