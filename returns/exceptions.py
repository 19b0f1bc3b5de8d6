from common.exceptions import DomainError


class ReturnRefused(DomainError):
    """The return cannot be made as asked (window, quantities, order not shipped...)."""

    code = "return_refused"
    status_code = 422


class InvalidReturnTransition(DomainError):
    """The return's status does not allow this step."""

    code = "invalid_transition"
    status_code = 409
