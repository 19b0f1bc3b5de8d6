"""The account space ("espace client"): sign in (password or a one-time link by email), the customer's
orders, address book, preferences, password, their data (download, erasure), sign out. Every page but the
sign-in ones needs a customer session (portal/auth.py); every object is looked up within the
signed-in customer's own rows, so another customer's id is a 404."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from common.audit import Action, ActorKind, audit_record
from common.exceptions import DomainError
from common.ratelimit import is_limited
from customers import accounts
from customers.exceptions import AccountLinkInvalid
from customers.models import Address, CustomerAccount
from orders.customer_data import account_erase, customer_export

from .auth import current_customer, customer_login, customer_logout, customer_required, portal_page, safe_next
from .forms import (
    AddressForm,
    DeleteAccountForm,
    LinkRequestForm,
    PreferencesForm,
    SetPasswordForm,
    SignInForm,
)
from .selectors import customer_orders
from .views import render_portal


def _home():
    return reverse("portal:account")


def _limited(request, group: str, key, rate: str) -> bool:
    # Counted in the cache, or in the database while the cache is down (common/ratelimit.py).
    return is_limited(request, group=group, key=key, rate=rate)


def _email_key(group, request):
    return (request.POST.get("email") or "").strip().lower()[:254] or "-"


@portal_page
@require_http_methods(["GET", "HEAD", "POST"])
def signin(request):
    """Two forms: email and password, or "email me a sign-in link". Both answer without telling whether
    the email is known."""
    if current_customer(request) is not None and request.method != "POST":
        return HttpResponseRedirect(safe_next(request, _home()))
    signin_form, link_form = SignInForm(), LinkRequestForm()
    next_url = safe_next(request, "")
    if request.method == "POST":
        action = request.POST.get("action")
        rate = settings.ACCOUNT_SIGNIN_RATE
        if _limited(request, "account-signin-ip", "ip", rate) | _limited(
            request, "account-signin-email", _email_key, rate
        ):
            audit_record(
                action=Action.CUSTOMER_SIGN_IN_FAILED,
                actor_kind=ActorKind.CUSTOMER,
                actor_label=_email_key("", request),
                details={"reason": "rate_limited"},
            )
            return render_portal(request, "orders/portal/429.html", status=429)
        if action == "link":
            link_form = LinkRequestForm(request.POST)
            if link_form.is_valid():
                link_page = request.build_absolute_uri(reverse("portal:account_link", args=["TOKEN"]))
                accounts.account_link_send(
                    email=link_form.cleaned_data["email"], link_url=link_page.replace("TOKEN", "{token}")
                )
                messages.success(
                    request,
                    _(
                        "If an account matches %(email)s, we have sent it a sign-in link. "
                        "It works once, within 15 minutes."
                    )
                    % {"email": link_form.cleaned_data["email"]},
                )
                return HttpResponseRedirect(reverse("portal:account_signin"))
        else:
            signin_form = SignInForm(request.POST)
            if signin_form.is_valid():
                customer = accounts.account_authenticate(
                    email=signin_form.cleaned_data["email"], password=signin_form.cleaned_data["password"]
                )
                if customer is not None:
                    customer_login(request, customer)
                    audit_record(
                        action=Action.CUSTOMER_SIGN_IN, customer=customer, details={"method": "password"}
                    )
                    return HttpResponseRedirect(safe_next(request, _home()))
                audit_record(
                    action=Action.CUSTOMER_SIGN_IN_FAILED,
                    actor_kind=ActorKind.CUSTOMER,
                    actor_label=signin_form.cleaned_data["email"],
                    details={"reason": "wrong_credentials"},
                )
                signin_form.add_error(
                    None,
                    _(
                        "This email and password do not match an account. No password yet? "
                        "Ask for a sign-in link below."
                    ),
                )
    return render_portal(
        request,
        "orders/portal/account_signin.html",
        {"signin_form": signin_form, "link_form": link_form, "next": next_url},
    )


@portal_page
@require_http_methods(["GET", "HEAD", "POST"])
def link(request, token: str):
    """The page a sign-in link opens: a button to sign in (a GET alone never spends the link, so mail
    scanners that open links do not use it up) and, optionally, a password to set for next time."""
    try:
        customer = accounts.account_link_check(token=token)
    except AccountLinkInvalid as exc:
        if request.method == "POST":  # someone tried to sign in with it (opening it is not an attempt)
            audit_record(
                action=Action.CUSTOMER_SIGN_IN_FAILED,
                actor_kind=ActorKind.CUSTOMER,
                details={"method": "link", "reason": exc.details.get("reason", "invalid")},
            )
        return render_portal(
            request,
            "orders/portal/account_link_invalid.html",
            {"reason": exc.details.get("reason", "invalid")},
            status=400,
        )
    has_password = CustomerAccount.objects.filter(customer=customer).exclude(password="").exists()
    form = SetPasswordForm(required=False)
    if request.method == "POST":
        form = SetPasswordForm(request.POST, required=False)
        if form.is_valid():
            try:
                customer = accounts.account_link_use(
                    token=token, password=form.cleaned_data.get("password1") or ""
                )
            except AccountLinkInvalid as exc:
                audit_record(
                    action=Action.CUSTOMER_SIGN_IN_FAILED,
                    actor_kind=ActorKind.CUSTOMER,
                    customer=customer,
                    details={"method": "link", "reason": exc.details.get("reason", "invalid")},
                )
                return render_portal(
                    request,
                    "orders/portal/account_link_invalid.html",
                    {"reason": exc.details.get("reason", "invalid")},
                    status=400,
                )
            except ValidationError as exc:
                form.add_error("password1", exc)
            else:
                customer_login(request, customer)
                audit_record(action=Action.CUSTOMER_SIGN_IN, customer=customer, details={"method": "link"})
                if form.cleaned_data.get("password1"):
                    messages.success(request, _("Your password is saved. You are signed in."))
                else:
                    messages.success(request, _("You are signed in."))
                return HttpResponseRedirect(_home())
    return render_portal(
        request,
        "orders/portal/account_link.html",
        {"form": form, "link_customer": customer, "has_password": has_password},
    )


@portal_page
@require_POST
def signout(request):
    customer = current_customer(request)
    customer_logout(request)
    if customer is not None:
        audit_record(action=Action.CUSTOMER_SIGN_OUT, customer=customer)
    messages.success(request, _("You are signed out."))
    return HttpResponseRedirect(reverse("portal:account_signin"))


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD"])
def home(request):
    orders = list(customer_orders(customer=request.customer)[:200])
    return render_portal(
        request, "orders/portal/account_orders.html", {"orders": orders, "section": "orders"}
    )


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD"])
def addresses(request):
    book = Address.objects.filter(customer=request.customer).order_by(
        "kind", "-is_default", "created_at", "pk"
    )
    return render_portal(
        request, "orders/portal/account_addresses.html", {"addresses": list(book), "section": "addresses"}
    )


def _own_address(request, pk: int) -> Address:
    return get_object_or_404(Address, pk=pk, customer=request.customer)


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_edit(request, pk: int | None = None):
    address = _own_address(request, pk) if pk is not None else None
    form = AddressForm(instance=address)
    if request.method == "POST":
        form = AddressForm(request.POST, instance=address or Address(customer=request.customer))
        if form.is_valid():
            accounts.address_save(customer=request.customer, address=address, data=form.cleaned_data)
            messages.success(request, _("Address saved."))
            return HttpResponseRedirect(reverse("portal:account_addresses"))
    return render_portal(
        request,
        "orders/portal/account_address_form.html",
        {"form": form, "address": address, "section": "addresses"},
    )


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD", "POST"])
def address_delete(request, pk: int):
    address = _own_address(request, pk)
    if request.method == "POST":
        accounts.address_delete(customer=request.customer, address=address)
        messages.success(request, _("Address deleted."))
        return HttpResponseRedirect(reverse("portal:account_addresses"))
    return render_portal(
        request, "orders/portal/account_address_delete.html", {"address": address, "section": "addresses"}
    )


@portal_page
@customer_required
@require_POST
def address_default(request, pk: int):
    address = _own_address(request, pk)
    accounts.address_set_default(customer=request.customer, address=address)
    messages.success(request, _("This is now your default address."))
    return HttpResponseRedirect(reverse("portal:account_addresses"))


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request):
    customer = request.customer
    account = accounts.account_get(customer=customer)
    initial = {
        "preferred_mode": account.preferred_mode,
        "relay_point_id": account.relay_point_id,
        "relay_point_name": account.relay_point_name,
        "preferred_store": account.preferred_store_id,
        "sms_opt_in": customer.sms_opt_in,
        "phone": customer.phone,
    }
    form = PreferencesForm(initial=initial)
    if request.method == "POST":
        form = PreferencesForm(request.POST, initial=initial)
        if form.is_valid():
            data = form.cleaned_data
            accounts.delivery_preferences_update(
                customer=customer,
                preferred_mode=data["preferred_mode"],
                relay_point_id=data["relay_point_id"],
                relay_point_name=data["relay_point_name"],
                preferred_store=data["preferred_store"],
            )
            accounts.notification_preferences_update(
                customer=customer, sms_opt_in=data["sms_opt_in"], phone=data["phone"]
            )
            messages.success(request, _("Your preferences are saved."))
            return HttpResponseRedirect(reverse("portal:account_preferences"))
    return render_portal(
        request,
        "orders/portal/account_preferences.html",
        {"form": form, "section": "preferences", "sms_since": customer.sms_opt_in_at},
    )


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD", "POST"])
def password(request):
    form = SetPasswordForm()
    if request.method == "POST":
        form = SetPasswordForm(request.POST)
        if form.is_valid():
            accounts.account_set_password(customer=request.customer, password=form.cleaned_data["password1"])
            customer_login(request, request.customer)  # the fingerprint changed: keep this session
            messages.success(request, _("Your password is saved."))
            return HttpResponseRedirect(_home())
    return render_portal(
        request, "orders/portal/account_password.html", {"form": form, "section": "password"}
    )


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD"])
def data(request):
    return render_portal(
        request, "orders/portal/account_data.html", {"form": DeleteAccountForm(), "section": "data"}
    )


@portal_page
@customer_required
@require_http_methods(["GET", "HEAD"])
def export(request):
    payload = {"exported_at": timezone.now().isoformat(), **customer_export(customer=request.customer)}
    response = HttpResponse(
        json.dumps(payload, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@portal_page
@customer_required
@require_POST
def delete(request):
    form = DeleteAccountForm(request.POST)
    if form.is_valid():
        try:
            account_erase(customer=request.customer)
        except DomainError as exc:
            numbers = ", ".join(exc.details.get("orders", []))
            form.add_error(
                None,
                _(
                    "Your data cannot be erased while orders are on their way (%(numbers)s). "
                    "Ask again once they are delivered."
                )
                % {"numbers": numbers},
            )
        else:
            customer_logout(request)
            messages.success(request, _("Your personal data has been erased. You are signed out."))
            return HttpResponseRedirect(reverse("portal:account_signin"))
    return render_portal(
        request, "orders/portal/account_data.html", {"form": form, "section": "data"}, status=200
    )
