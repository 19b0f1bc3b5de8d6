"""Write operations of the customer account space ("espace client"): signing in (password or a one-time link
sent by email), the address book, delivery and notification preferences, and the erasure of a customer's
personal data (RGPD). The pages live in portal/ and call these functions.

Sign-in links are signed with the project's secret (``django.core.signing``), expire after
``ACCOUNT_LINK_MAX_AGE`` seconds, and carry a fingerprint of the account's state (email, password hash,
last sign-in): using a link signs in and updates ``last_login``, which changes the fingerprint, so a link
works once. Using one locks the customer row, so two clicks at the same moment sign in once.
"""

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac

from common import jobs

from . import events as customer_events
from .exceptions import AccountLinkInvalid
from .models import AccountLinkEmail, Address, Customer, CustomerAccount, CustomerNote, Notification

logger = logging.getLogger(__name__)

LINK_SALT = "customers.account-link"
STATE_SALT = "customers.account-state"
# A sign-in link asked for but not sent within this time (broker or mail server down) is not sent any more.
LINK_SEND_WITHIN_SECONDS = 60 * 60
# Erased customers get an address on a reserved domain (RFC 2606): unique, never deliverable.
ANONYMISED_DOMAIN = "anonymised.invalid"


def _max_age() -> int:
    return getattr(settings, "ACCOUNT_LINK_MAX_AGE", 15 * 60)


def account_state(customer: Customer) -> str:
    """A fingerprint of what a sign-in depends on: it changes when the email, the password or the last
    sign-in changes (so links are single use and sessions end when the password or the email changes)."""
    account = CustomerAccount.objects.filter(customer=customer).first()
    password = account.password if account else ""
    last_login = account.last_login.isoformat() if account and account.last_login else ""
    value = f"{customer.pk}:{customer.email.lower()}:{password}:{last_login}"
    return salted_hmac(STATE_SALT, value).hexdigest()[:32]


def session_fingerprint(customer: Customer) -> str:
    """What a customer's session is tied to: the email and the password hash (not the last sign-in, which
    every new sign-in on another device changes)."""
    account = CustomerAccount.objects.filter(customer=customer).first()
    value = f"{customer.pk}:{customer.email.lower()}:{account.password if account else ''}"
    return salted_hmac("customers.account-session", value).hexdigest()


def account_authenticate(*, email: str, password: str) -> Customer | None:
    """The customer with this email and password, or None. The hasher runs even when there is no such
    account, so the answer takes the same time either way."""
    account = (
        CustomerAccount.objects.select_related("customer")
        .filter(customer__email__iexact=(email or "").strip())
        .exclude(password="")
        .first()
    )
    if account is None:
        make_password(password)  # same work as a real check
        return None
    if not check_password(password, account.password):
        return None
    CustomerAccount.objects.filter(pk=account.pk).update(last_login=timezone.now())
    return account.customer


def account_link_make(*, customer: Customer) -> str:
    return signing.dumps({"c": customer.pk, "s": account_state(customer)}, salt=LINK_SALT, compress=True)


def account_link_check(*, token: str) -> Customer:
    """The customer a link is for, if it is genuine, not expired and not used; else AccountLinkInvalid."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=_max_age())
    except signing.SignatureExpired as exc:
        raise AccountLinkInvalid("This link has expired.", details={"reason": "expired"}) from exc
    except signing.BadSignature as exc:
        raise AccountLinkInvalid("This link is not valid.", details={"reason": "invalid"}) from exc
    customer = Customer.objects.filter(pk=data.get("c")).first() if isinstance(data, dict) else None
    if customer is None or not constant_time_compare(str(data.get("s", "")), account_state(customer)):
        raise AccountLinkInvalid("This link was already used.", details={"reason": "used"})
    return customer


def account_link_send(*, email: str, link_url: str) -> bool:
    """Email a one-time sign-in link to the customer with this address. ``link_url`` is the absolute address
    of the link page with ``{token}`` where the token goes. The request is written down
    (``AccountLinkEmail``) and a Celery task on the ``notifications`` queue sends it after commit, never the
    request; if the broker loses the message, the beat sweep sends it (common/jobs.py). Returns False,
    sending nothing, when no customer has this address: the caller answers the same either way. The link
    does not go through the notification outbox on purpose: its rows are shown to customer service, who
    must not be able to sign in as the customer; and the token is made at sending time, never stored."""
    if "{token}" not in link_url:
        raise ValueError("link_url needs a {token} placeholder")
    customer = Customer.objects.filter(email__iexact=(email or "").strip()).first()
    if customer is None or is_anonymised(customer):
        return False
    # A request still waiting after this long will not be sent: the customer has given up or asks again now.
    AccountLinkEmail.objects.filter(
        customer=customer,
        status=AccountLinkEmail.Status.PENDING,
        created_at__lt=timezone.now() - dt.timedelta(seconds=LINK_SEND_WITHIN_SECONDS),
    ).update(status=AccountLinkEmail.Status.FAILED, error="Not sent in time.", job_due_at=None)
    try:
        with transaction.atomic():
            request = AccountLinkEmail.objects.create(
                customer=customer, link_url=link_url[:500], job_due_at=jobs.due()
            )
    except IntegrityError:
        return True  # one is waiting to be sent: its email carries a link made when it leaves
    from .tasks import send_account_link as send_account_link_task

    jobs.enqueue_on_commit(send_account_link_task, request.pk)
    return True


def account_link_deliver(*, request_id: int) -> str:
    """Send a sign-in email (the Celery task): the job is claimed first, so a redelivered or duplicate
    message finds it sent or held and sends nothing. A mail error is raised (the task retries with backoff;
    the sweep, if its message is lost); the link in the email is made now, valid from now."""
    from .jobs import ACCOUNT_LINK

    with jobs.claim(ACCOUNT_LINK, request_id) as job:
        if job is None:
            return "skipped"
        request = AccountLinkEmail.objects.select_related("customer").get(pk=request_id)
        customer = request.customer
        too_old = request.created_at < timezone.now() - dt.timedelta(seconds=LINK_SEND_WITHIN_SECONDS)
        if is_anonymised(customer) or too_old:
            AccountLinkEmail.objects.filter(pk=request.pk).update(
                status=AccountLinkEmail.Status.FAILED,
                error="Customer data erased." if not too_old else "Not sent in time.",
            )
            return "skipped"
        token = account_link_make(customer=customer)
        _send_link(customer=customer, url=request.link_url.replace("{token}", token))
        AccountLinkEmail.objects.filter(pk=request.pk).update(
            status=AccountLinkEmail.Status.SENT, sent_at=timezone.now(), error=""
        )
    return "sent"


def _send_link(*, customer: Customer, url: str) -> None:
    language = customer.language or settings.LANGUAGE_CODE
    merchant = {
        "name": settings.MERCHANT_NAME,
        "logo_url": getattr(settings, "MERCHANT_LOGO_URL", ""),
        "color": getattr(settings, "MERCHANT_COLOR", "#1f5fbf"),
    }
    context = {"customer": customer, "url": url, "minutes": _max_age() // 60, "merchant": merchant}
    with translation.override(language):
        subject = translation.gettext("Your sign-in link for %(merchant)s") % {
            "merchant": settings.MERCHANT_NAME
        }
        context["subject"] = subject
        text = render_to_string("customers/emails/account_link.txt", context)
        html = render_to_string("customers/emails/account_link.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[customer.email]
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


def account_link_use(*, token: str, password: str = "") -> Customer:
    """Sign in with a link: creates the account on first use, sets the password if one is given (checked
    by the project's password validators), records the sign-in, which spends the link."""
    customer = account_link_check(token=token)
    if password:
        validate_password(password)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        account_link_check(token=token)  # again, under the lock: a concurrent use spent it
        account, _created = CustomerAccount.objects.get_or_create(customer=customer)
        account.last_login = timezone.now()
        fields = ["last_login", "updated_at"]
        if password:
            account.password = make_password(password)
            fields.append("password")
        account.save(update_fields=fields)
    return customer


def account_set_password(*, customer: Customer, password: str) -> CustomerAccount:
    validate_password(password)
    account, _created = CustomerAccount.objects.get_or_create(customer=customer)
    account.password = make_password(password)
    account.save(update_fields=["password", "updated_at"])
    return account


def account_get(*, customer: Customer) -> CustomerAccount:
    account, _created = CustomerAccount.objects.get_or_create(customer=customer)
    return account


# --- Address book -----------------------------------------------------------------------------------------

ADDRESS_FIELDS = ("kind", "name", "company", "line1", "line2", "postcode", "city", "country", "phone")


def address_save(*, customer: Customer, data: dict, address: Address | None = None) -> Address:
    """Add an address to the customer's book or change one of theirs. ``is_default`` makes it the default
    of its kind (the previous default loses it); the first address of a kind is the default."""
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()  # one default at a time
        if address is None:
            address = Address(customer=customer)
        elif address.customer_id != customer.pk:
            raise Address.DoesNotExist
        for field in ADDRESS_FIELDS:
            if field in data:
                setattr(address, field, data[field] or "")
        address.country = (address.country or "FR").upper()
        others = Address.objects.filter(customer=customer, kind=address.kind).exclude(pk=address.pk)
        address.is_default = bool(data.get("is_default")) or not others.filter(is_default=True).exists()
        address.save()
        if address.is_default:
            Address.objects.filter(customer=customer, kind=address.kind, is_default=True).exclude(
                pk=address.pk
            ).update(is_default=False)
    return address


def address_set_default(*, customer: Customer, address: Address) -> Address:
    return address_save(customer=customer, address=address, data={"is_default": True})


def address_delete(*, customer: Customer, address: Address) -> None:
    """Delete one of the customer's addresses; if it was the default, the oldest other one of its kind
    becomes the default."""
    if address.customer_id != customer.pk:
        raise Address.DoesNotExist
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        was_default, kind = address.is_default, address.kind
        address.delete()
        if was_default:
            nxt = Address.objects.filter(customer=customer, kind=kind).order_by("created_at", "pk").first()
            if nxt is not None:
                Address.objects.filter(pk=nxt.pk).update(is_default=True)


# --- Preferences ------------------------------------------------------------------------------------------


def delivery_preferences_update(
    *,
    customer: Customer,
    preferred_mode: str,
    relay_point_id: str = "",
    relay_point_name: str = "",
    preferred_store=None,
) -> CustomerAccount:
    account = account_get(customer=customer)
    account.preferred_mode = preferred_mode or ""
    account.relay_point_id = relay_point_id or ""
    account.relay_point_name = relay_point_name or ""
    account.preferred_store = preferred_store
    account.save(
        update_fields=[
            "preferred_mode",
            "relay_point_id",
            "relay_point_name",
            "preferred_store",
            "updated_at",
        ]
    )
    return account


def notification_preferences_update(*, customer: Customer, sms_opt_in: bool, phone: str = "") -> Customer:
    """Emails about orders are always sent (transactional); text messages only with consent, which is
    dated. Consent needs a phone number."""
    customer.phone = (phone or "").strip()
    fields = ["phone", "updated_at"]
    if sms_opt_in != customer.sms_opt_in:
        customer.sms_opt_in = sms_opt_in
        customer.sms_opt_in_at = timezone.now() if sms_opt_in else None
        fields += ["sms_opt_in", "sms_opt_in_at"]
    customer.save(update_fields=fields)
    return customer


# --- Erasure (RGPD) ---------------------------------------------------------------------------------------


def customer_anonymise(*, customer: Customer) -> Customer:
    """Erase a customer's personal data: names, phone, company identifiers blanked, the email replaced by a
    unique placeholder on a reserved domain, the address book, the account and customer service's notes
    deleted, text-message consent withdrawn, the content of their messages removed (unsent ones are not
    sent). Orders and invoices keep their own snapshots (delivery address, billing identity), which the law
    requires us to keep."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        placeholder = f"anonymised-{customer.pk}-{secrets.token_hex(6)}@{ANONYMISED_DOMAIN}"
        customer.email = placeholder
        for field in ("first_name", "last_name", "phone", "company", "siren", "vat_number"):
            setattr(customer, field, "")
        customer.sms_opt_in = False
        customer.sms_opt_in_at = None
        customer.save()
        Address.objects.filter(customer=customer).delete()
        CustomerNote.objects.filter(customer=customer).delete()  # staff notes are personal data too
        CustomerAccount.objects.filter(customer=customer).delete()
        notifications = Notification.objects.filter(customer=customer)
        notifications.filter(status__in=[Notification.Status.PENDING, Notification.Status.SENDING]).update(
            status=Notification.Status.FAILED, next_attempt_at=None, last_error="customer data erased"
        )
        notifications.update(recipient=placeholder, body_text="", body_html="")
        customer_events.erased(customer=customer)
    logger.info("Customer %s anonymised at their request at %s", customer.pk, timezone.now().isoformat())
    return customer


def is_anonymised(customer: Customer) -> bool:
    return customer.email.endswith("@" + ANONYMISED_DOMAIN)
