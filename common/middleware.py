"""Our middleware, and the page-only middleware that a machine's request goes straight through.

A request under ``settings.MACHINE_PATH_PREFIXES`` (``/webhooks/``: Shopify, WooCommerce and the carriers
post there, signed) comes from another program, not from a browser: it has no session, no signed-in user,
no language to choose (it gets the site's), no messages to show, no htmx, and nothing reads its answer's
cookies. The page-only middleware below (sessions, locale, authentication, messages, htmx; the pin of
``common.replica`` too) lets such a request through untouched, so the accept path of a webhook pays for
none of it and answers without a cookie. Every other request, pages and API, gets their whole behaviour.
What stays on for machines: security headers, the Content-Security-Policy, CSRF (the webhook views are
``csrf_exempt``; any other view there would be checked), malformed-request checks and the audit context
(the caller's address).
"""

from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django_htmx.middleware import HtmxMiddleware as DjangoHtmxMiddleware


def machine_request(request) -> bool:
    """Is this request a machine's (a signed webhook), which the page-only middleware leaves alone?"""
    return request.path_info.startswith(settings.MACHINE_PATH_PREFIXES)


class _PagesOnly:
    """Mixed into a middleware class: a machine's request goes straight to the next layer (``machine``
    may prepare it first). Works for sync and async chains: ``get_response``'s result is returned as is."""

    def machine(self, request) -> None:
        pass

    def __call__(self, request):
        if machine_request(request):
            self.machine(request)
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PagesOnly, DjangoSessionMiddleware):
    """No session (no cookie, no session row read or written) for a machine's request."""


class LocaleMiddleware(_PagesOnly, DjangoLocaleMiddleware):
    """A machine's request is served in the site's language (``LANGUAGE_CODE``), the one a Celery worker
    works in: no Accept-Language or cookie to read, and the thread does not keep the language of the page it
    served before (what a webhook records, e.g. why a channel's change was refused, reads the same whether
    its task ran in the request or in a worker)."""

    def machine(self, request) -> None:
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE


class AuthenticationMiddleware(_PagesOnly, DjangoAuthenticationMiddleware):
    """A machine's request is anonymous: its signature is its authentication, checked by its view."""

    def machine(self, request) -> None:
        request.user = AnonymousUser()


class MessageMiddleware(_PagesOnly, DjangoMessageMiddleware):
    """No flash messages for a machine (they live in the session or a cookie)."""


class HtmxMiddleware(_PagesOnly, DjangoHtmxMiddleware):
    """Only pages are htmx's."""


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


class MalformedRequestMiddleware:
    """Bad bytes anywhere in a request are a 400 before any view runs, never a 500 further down:

    - a NUL character in the path, the query string, a header, or a form field (name or value) of a page:
      PostgreSQL refuses such text in a query, and no code, SKU, name or address may hold one;
    - a path or query string whose percent-decoded bytes are not UTF-8 (a lone surrogate encoded as
      ``%ED%A0%80``, a stray ``%FF``): Django would quietly turn them into U+FFFD and go on.

    Under /api/ the answer is in the API's error format (``malformed_request``); elsewhere it is the 400
    page (``handler400``). JSON bodies are checked by the API's parser (``common.api.JSONParser``); the
    signed webhooks under /webhooks/ read their raw body themselves and store a bad one as a failed
    delivery, so their form fields are not parsed here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = _problem(request)
        if problem is None:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"error": {"code": "malformed_request", "message": problem, "details": {}}}, status=400
            )
        from .api import bad_request  # not at import time: common.api loads DRF, whose settings load it

        return bad_request(request, BadRequest(problem))


def _utf8(text: str, encoding: str) -> bool:
    """Whether ``text``, encoded back to bytes with ``encoding`` and percent-decoded, is UTF-8."""
    try:
        unquote_to_bytes(text.encode(encoding)).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return True


def _problem(request) -> str | None:
    # Django decodes the path as UTF-8 and percent-encodes again the bytes that are not (so ``%FF`` or a
    # surrogate's ``%ED%A0%80`` come back as such); the query string is the raw one (latin-1 in WSGI).
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in request.path or not _utf8(request.path_info, "utf-8"):
        return "The request's path contains a NUL character or bytes that are not UTF-8."
    if not _utf8(query, "latin-1") or _nul_in(request.GET):
        return "The request's query string contains a NUL character or bytes that are not UTF-8."
    for name, value in request.headers.items():
        if "\x00" in name or "\x00" in value:
            return f"The request's {name} header contains a NUL character."
    if (
        request.method == "POST"
        and not request.path_info.startswith(("/api/", "/webhooks/"))
        and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        and _nul_in(request.POST)
    ):
        return "A field of the form contains a NUL character."
    return None


def _nul_in(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())
