"""The REST API's error format: ``{"error": {"code", "message", "details"}}`` for every 4xx."""

import io
import re
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .addresses import address_clean, error_messages
from .exceptions import DomainError
from .text import find_bad_text, safe_data, safe_text

_CODES = {
    status.HTTP_400_BAD_REQUEST: "malformed_request",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


MAX_JSON_DEPTH = 32


class MalformedBody(exceptions.ParseError):
    """A body that is JSON but holds what no field can (400 ``malformed_json``), with where it is."""

    def __init__(self, message: str, *, details: dict):
        super().__init__(message)
        self.details = details


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, stricter in two ways, both a 400 ``malformed_json`` before any view runs:

    - a body nested deeper than ``MAX_JSON_DEPTH``: Python's decoder raises RecursionError on a very deep
      one (a 500), and a merely deep one would crash the code that walks it (the Idempotency-Key
      fingerprint);
    - a string (value or key) holding a NUL character or a lone UTF-16 surrogate (``"\\ud800"``): no field
      of any endpoint may hold one (PostgreSQL refuses NUL, and a surrogate is not UTF-8), and a validation
      message echoing it could not even be rendered. Invalid UTF-8 is already refused by the decoder."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = None
        if stream is not None and _utf8((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)):
            raw = stream.read()
            stream = io.BytesIO(raw)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
            too_deep = True
        else:
            too_deep = _deeper_than(data, MAX_JSON_DEPTH)
        if too_deep:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        # In UTF-8 JSON, a NUL or a surrogate can only come from an escape (\u0000, \ud800 to \udfff): the
        # decoder refuses a raw control character in a string, and invalid UTF-8. Without such an escape
        # no string needs looking at (an escaped backslash before "u0000" matches too: then all are).
        bad = find_bad_text(data) if raw is None or _ESCAPES.search(raw) else None
        if bad is not None:
            path, what = bad
            raise MalformedBody(
                f"JSON parse error - the string at {path} contains {what}.",
                details={"path": path, "reason": what},
            )
        return data


_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


def _deeper_than(data, limit: int) -> bool:
    if not isinstance(data, dict | list):
        return False
    stack = [(data, 1)]  # containers only
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > limit:
            return True
        for v in value.values() if isinstance(value, dict) else value:
            if isinstance(v, dict | list):
                push((v, depth + 1))
    return False


def error_response(*, code: str, message: str, status_code: int, details: dict | None = None, headers=None):
    """An answer in the error format. Messages and details may echo what the caller sent (a validation
    message quotes the refused value): anything the JSON renderer could not encode is replaced by U+FFFD,
    so a bad value can never turn a 4xx into a 500."""
    body = {"error": {"code": code, "message": safe_text(str(message)), "details": safe_data(details or {})}}
    return Response(body, status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response(
            code=exc.code, message=exc.message, status_code=exc.status_code, details=exc.details
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        # Field validation: 422 with the fields' messages in details.
        return error_response(
            code="validation_error",
            message="The request has invalid fields.",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            details=exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", "")
    code = getattr(exc, "default_code", None)
    details = None
    if isinstance(exc, exceptions.ParseError):
        code = "malformed_json"
        details = getattr(exc, "details", None)
    elif (
        isinstance(exc, exceptions.AuthenticationFailed)
        and getattr(exc.detail, "code", "") == "api_key_revoked"
    ):
        code = "api_key_revoked"
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = "not_authenticated"
    else:
        code = _CODES.get(response.status_code, code or "error")
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    return error_response(
        code=code, message=str(detail), status_code=response.status_code, details=details, headers=headers
    )


def address_validate(attrs: dict, *, postcode_required: bool = True, default_country: str = "FR") -> dict:
    """A serializer's ``validate`` for an address: ``attrs`` with the postcode and country checked and
    normalised by ``common.addresses`` (422 naming ``postcode`` or ``country`` otherwise)."""
    try:
        postcode, country = address_clean(
            postcode=attrs.get("postcode", ""),
            country=attrs.get("country") or default_country,
            postcode_required=postcode_required,
        )
    except DjangoValidationError as exc:
        raise serializers.ValidationError(error_messages(exc)) from None
    return {**attrs, "postcode": postcode, "country": country}


COUNTRY_HELP = "ISO 3166-1 alpha-2 country code (FR, BE, DE, GB…), any case; answered upper-case."
POSTCODE_HELP = (
    "Checked against the country's format and stored in its canonical form (`75 004` → `75004`, "
    "`sw1a1aa` → `SW1A 1AA`): France (metropolitan 01-95 with Corsica 20xxx, overseas 971-978, "
    "984-988, Monaco 980xx), the EU, the United Kingdom, Switzerland, Norway; elsewhere 1 to 12 letters "
    "or digits."
)


class _ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    """``{"error": {"code": "<snake_case>", "message": "...", "details": {...}}}``"""

    error = _ErrorDetail()


def error_responses(*codes: int) -> dict:
    """drf-spectacular ``responses`` entries for the given error statuses (401 and 400 always)."""
    return {code: ErrorSerializer for code in sorted({400, 401, *codes})}


def paginated(serializer_class, name: str) -> type[serializers.Serializer]:
    """The schema of a page of a list as ``PageNumberPagination`` answers it:
    ``{"count", "next", "previous", "results"}``."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": f"A page of {serializer_class.__name__} (50 a page).",
            "count": serializers.IntegerField(min_value=0),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


PAGE_PARAMETER = OpenApiParameter(
    "page", int, description="The page, from 1 (50 results a page). Past the last page: 404."
)


def bad_request(request, exception=None):
    """``handler400`` (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields, a bad Host...): under
    /api/ it answers in the API's error format; elsewhere the back office's page."""
    if request.path.startswith("/api/"):
        body = {
            "error": {
                "code": "malformed_request",
                "message": "The request is too large or malformed.",
                "details": {},
            }
        }
        return JsonResponse(body, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception=None):
    """``handler404``: a URL under /api/ that no endpoint serves is a 404 in the API's error format; any
    other is the back office's page."""
    if request.path.startswith("/api/"):
        body = {"error": {"code": "not_found", "message": "No API endpoint at this URL.", "details": {}}}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """``handler500``. When the cause is the database (unreachable, or the connection was cut mid-request),
    nothing could be served: 503 with ``Retry-After``, in the API's error format under /api/ (code
    ``service_unavailable``), a short page elsewhere; nothing was half-written (each write is one
    transaction). Any other error is a 500, in the API's format under /api/. Renders without touching the
    database (no context processors)."""
    exc = sys.exc_info()[1]
    unavailable = isinstance(exc, DatabaseError) and _connection_lost(exc)
    status_code = 503 if unavailable else 500
    if request.path.startswith("/api/"):
        if unavailable:
            error = {
                "code": "service_unavailable",
                "message": "The service is briefly unavailable: retry in a few seconds.",
                "details": {},
            }
        else:
            error = {"code": "server_error", "message": "An unexpected error occurred.", "details": {}}
        response = JsonResponse({"error": error}, status=status_code)
    else:
        template = "503.html" if unavailable else "500.html"
        response = HttpResponse(loader.get_template(template).render(), status=status_code)
    if unavailable:
        response["Retry-After"] = "5"
    return response


def _connection_lost(exc: DatabaseError) -> bool:
    """The connection is gone or cannot be made (not a bad query): psycopg's OperationalError or
    InterfaceError, or any database error once Django knows the connection is unusable."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    try:
        return not connection.is_usable()
    except Exception:  # noqa: BLE001
        return True


class HasScope(BasePermission):
    """The API key must carry one of the view's ``required_scopes`` (or ``all``)."""

    message = "This API key does not have the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        scopes = getattr(view, "required_scopes", ())
        if key is None or not hasattr(key, "has_scope"):
            return False
        return not scopes or any(key.has_scope(scope) for scope in scopes)
