"""The base of every domain exception. Services raise these; the edges (DRF handler, form helper) turn
them into the error format of DESIGN.md or into a message on the form."""


class DomainError(Exception):
    """A business rule refused the operation. ``code`` is the snake_case code of the API error format."""

    code = "domain_error"
    status_code = 409

    def __init__(self, message: str = "", *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message or self.__class__.__doc__ or self.code
        if code:
            self.code = code
        self.details = details or {}
