from django.http import JsonResponse
from django.utils import translation


class ApiLanguageMiddleware:
    """The REST API answers in English whatever the browser's language: integrators parse its messages and
    codes, and a stable language makes logs and support easier. Placed after LocaleMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        return self.get_response(request)


class ApiMalformedRequestMiddleware:
    """A NUL character in an API request's path or query string is refused as malformed (400, in the
    error format of the API) before any view runs: no SKU, order number or code can hold one, and
    PostgreSQL refuses such text in a query, which would otherwise be a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and _has_nul(request):
            return JsonResponse(
                {
                    "error": {
                        "code": "malformed_request",
                        "message": "The request's path or query string contains a NUL character.",
                        "details": {},
                    }
                },
                status=400,
            )
        return self.get_response(request)


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())
