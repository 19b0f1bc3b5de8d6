"""The customer's session in the account space, kept apart from staff authentication: its own session keys
(never ``_auth_user_id``), so a signed-in customer is anonymous to the back office and a staff session is
nobody in the account space. The session is tied to a fingerprint of the customer's email and password
hash: changing the password or erasing the account ends every session."""

import functools
import re
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme

from customers.accounts import session_fingerprint
from customers.models import Customer

SESSION_CUSTOMER = "portal_customer_id"
SESSION_FINGERPRINT = "portal_customer_fp"
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def customer_login(request, customer: Customer) -> None:
    request.session.cycle_key()  # no session fixation
    request.session[SESSION_CUSTOMER] = customer.pk
    request.session[SESSION_FINGERPRINT] = session_fingerprint(customer)


def customer_logout(request) -> None:
    """Ends the customer's session only (a staff session in the same browser is left alone)."""
    request.session.pop(SESSION_CUSTOMER, None)
    request.session.pop(SESSION_FINGERPRINT, None)
    request.session.cycle_key()


def current_customer(request) -> Customer | None:
    if hasattr(request, "_portal_customer"):
        return request._portal_customer
    customer = None
    pk = request.session.get(SESSION_CUSTOMER)
    if pk is not None:
        customer = Customer.objects.filter(pk=pk).first()
        if customer is None or not constant_time_compare(
            request.session.get(SESSION_FINGERPRINT, ""), session_fingerprint(customer)
        ):
            customer = None
            request.session.pop(SESSION_CUSTOMER, None)
            request.session.pop(SESSION_FINGERPRINT, None)
    request._portal_customer = customer
    return customer


def safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/account/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def portal_page(view):
    """Every portal and account page: ``?lang=fr|en`` chooses the language (kept in the language cookie,
    the browser's preference otherwise), and the answer is kept out of search engines, other sites'
    referrers and shared caches."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        lang = request.GET.get("lang", "")
        chosen = lang if lang in dict(settings.LANGUAGES) else ""
        if chosen:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = view(request, *args, **kwargs)
        if chosen:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, samesite="Lax", max_age=365 * 86400)
        # Pages with a secret in their URL (a tracking page) send no referrer at all; the others keep it
        # to this site, since browsers send ``Origin: null`` on form posts from a no-referrer page, which
        # CSRF protection refuses.
        response.setdefault("Referrer-Policy", "same-origin")
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Cache-Control"] = "private, no-store"
        return response

    return wrapped


def customer_required(view):
    """Account pages: a signed-in customer, else the sign-in page (then back here)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        customer = current_customer(request)
        if customer is None:
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('portal:account_signin')}?{query}")
        request.customer = customer
        return view(request, *args, **kwargs)

    return wrapped


def merchant_colour() -> str:
    """settings.MERCHANT_COLOR if it is a hex code (it goes into a stylesheet), else the default blue."""
    colour = getattr(settings, "MERCHANT_COLOR", "") or ""
    return colour if HEX_COLOUR.match(colour) else "#1f5fbf"


def merchant(request) -> dict:
    """The merchant's name, logo and colour for the portal's layout."""
    return {
        "merchant": {
            "name": getattr(settings, "MERCHANT_NAME", "") or "",
            "logo_url": getattr(settings, "MERCHANT_LOGO_URL", "") or "",
            "color": merchant_colour(),
            "support_email": getattr(settings, "MERCHANT_SUPPORT_EMAIL", "") or "",
        },
        "portal_customer": current_customer(request),
    }
