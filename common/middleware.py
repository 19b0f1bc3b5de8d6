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
