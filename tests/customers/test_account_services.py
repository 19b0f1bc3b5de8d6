"""Services of the account space (customers/accounts.py): sign-in links, passwords, the address book,
preferences and the erasure of personal data."""

import datetime as dt
from unittest import mock

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers import accounts
from customers.exceptions import AccountLinkInvalid
from customers.models import AccountLinkEmail, Address, Customer, CustomerAccount, Notification
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery-staple-42"


@pytest.fixture
def customer():
    return CustomerFactory(email="ana.roux@example.fr", first_name="Ana", phone="+33612345678", language="en")


def test_link_signs_in_once_and_creates_the_account(customer):
    token = accounts.account_link_make(customer=customer)

    assert accounts.account_link_use(token=token) == customer

    account = CustomerAccount.objects.get(customer=customer)
    assert account.last_login is not None and account.password == ""
    with pytest.raises(AccountLinkInvalid) as exc:
        accounts.account_link_use(token=token)
    assert exc.value.details == {"reason": "used"}


def test_link_expires_after_15_minutes(customer):
    token = accounts.account_link_make(customer=customer)
    later = timezone.now() + dt.timedelta(minutes=15, seconds=5)

    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        with pytest.raises(AccountLinkInvalid) as exc:
            accounts.account_link_check(token=token)

    assert exc.value.details == {"reason": "expired"}
    assert not CustomerAccount.objects.exists()


def test_forged_or_altered_link_is_refused(customer):
    token = accounts.account_link_make(customer=customer)

    for bad in ("nonsense", token[:-2] + "xx", token.replace(token[5], "A" if token[5] != "A" else "B", 1)):
        with pytest.raises(AccountLinkInvalid):
            accounts.account_link_check(token=bad)


def test_link_can_set_a_password_checked_by_the_validators(customer):
    token = accounts.account_link_make(customer=customer)

    with pytest.raises(ValidationError):
        accounts.account_link_use(token=token, password="123")
    assert not CustomerAccount.objects.exists()  # nothing written, the link still works

    accounts.account_link_use(token=token, password=STRONG)
    assert check_password(STRONG, CustomerAccount.objects.get().password)


def test_changing_the_password_spends_links_sent_before(customer):
    token = accounts.account_link_make(customer=customer)

    accounts.account_set_password(customer=customer, password=STRONG)

    with pytest.raises(AccountLinkInvalid):
        accounts.account_link_check(token=token)


def test_link_is_emailed_by_a_task_after_commit_once(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = accounts.account_link_send(email="ANA.ROUX@example.fr", link_url="https://shop/a/{token}/")

    assert sent is True and len(callbacks) == 1
    assert len(mail.outbox) == 0  # nothing is sent inside the request
    request = AccountLinkEmail.objects.get()
    assert (request.customer, request.status, request.link_url) == (
        customer,
        "pending",
        "https://shop/a/{token}/",
    )
    assert request.job_due_at is not None  # recoverable by the sweep if the broker loses the message
    callbacks[0]()  # commit: the task runs (eagerly in tests)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana.roux@example.fr"] and message.subject.startswith("Your sign-in link")
    url = next(word for word in message.body.split() if word.startswith("https://shop/a/"))
    assert url in message.alternatives[0][0]
    assert accounts.account_link_check(token=url.split("/")[-2]) == customer  # a working link
    assert not Notification.objects.exists()  # not in the outbox that customer service reads
    request.refresh_from_db()
    assert (request.status, request.job_due_at, request.job_lease_until) == ("sent", None, None)
    assert "{token}" in request.link_url  # the token itself is never stored

    assert accounts.account_link_deliver(request_id=request.pk) == "skipped"  # a redelivered task
    assert len(mail.outbox) == 1


def test_one_link_request_waits_at_a_time(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert accounts.account_link_send(email=customer.email, link_url="https://shop/a/{token}/")
        assert accounts.account_link_send(email=customer.email, link_url="https://shop/a/{token}/")

    assert AccountLinkEmail.objects.count() == 1 and len(callbacks) == 1


def test_a_failed_send_can_be_retried(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        accounts.account_link_send(email=customer.email, link_url="https://shop/a/{token}/")
    request = AccountLinkEmail.objects.get()
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("down")):
        with pytest.raises(OSError):
            accounts.account_link_deliver(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "pending" and request.job_lease_until is None and request.job_due_at is not None

    assert accounts.account_link_deliver(request_id=request.pk) == "sent"
    assert len(mail.outbox) == 1


def test_a_link_request_not_sent_within_the_hour_is_dropped(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        accounts.account_link_send(email=customer.email, link_url="https://shop/a/{token}/")
    request = AccountLinkEmail.objects.get()
    AccountLinkEmail.objects.filter(pk=request.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))

    assert accounts.account_link_deliver(request_id=request.pk) == "skipped"
    request.refresh_from_db()
    assert (request.status, request.job_due_at) == ("failed", None)
    assert mail.outbox == []


def test_link_request_for_an_unknown_email_sends_nothing(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert accounts.account_link_send(email="nobody@example.fr", link_url="https://shop/{token}") is False
    assert callbacks == [] and mail.outbox == []


def test_password_sign_in(customer):
    accounts.account_set_password(customer=customer, password=STRONG)

    assert accounts.account_authenticate(email="Ana.Roux@example.fr", password=STRONG) == customer
    assert accounts.account_authenticate(email="ana.roux@example.fr", password="wrong") is None
    assert accounts.account_authenticate(email="nobody@example.fr", password=STRONG) is None
    assert CustomerAccount.objects.get().last_login is not None


def test_customer_without_password_cannot_sign_in_with_an_empty_one(customer):
    accounts.account_link_use(token=accounts.account_link_make(customer=customer))

    assert accounts.account_authenticate(email=customer.email, password="") is None


def test_address_book_keeps_one_default_per_kind(customer):
    first = accounts.address_save(
        customer=customer, data={"line1": "1 rue A", "postcode": "69001", "city": "Lyon"}
    )
    second = accounts.address_save(
        customer=customer, data={"line1": "2 rue B", "postcode": "75001", "city": "Paris", "country": "fr"}
    )
    assert first.is_default and not second.is_default and second.country == "FR"

    accounts.address_set_default(customer=customer, address=second)
    assert list(Address.objects.filter(is_default=True).values_list("pk", flat=True)) == [second.pk]

    accounts.address_delete(customer=customer, address=second)
    assert Address.objects.get().is_default  # the other one takes over


def test_another_customers_address_cannot_be_changed(customer):
    other = CustomerFactory()
    theirs = accounts.address_save(
        customer=other, data={"line1": "9 rue Z", "postcode": "13001", "city": "Marseille"}
    )

    with pytest.raises(Address.DoesNotExist):
        accounts.address_save(customer=customer, address=theirs, data={"line1": "hacked"})
    with pytest.raises(Address.DoesNotExist):
        accounts.address_delete(customer=customer, address=theirs)
    theirs.refresh_from_db()
    assert theirs.line1 == "9 rue Z"


def test_sms_consent_is_dated_and_withdrawn(customer):
    accounts.notification_preferences_update(customer=customer, sms_opt_in=True, phone="+33611111111")
    customer.refresh_from_db()
    assert customer.sms_opt_in and customer.sms_opt_in_at is not None and customer.phone == "+33611111111"

    accounts.notification_preferences_update(customer=customer, sms_opt_in=False, phone="+33611111111")
    customer.refresh_from_db()
    assert not customer.sms_opt_in and customer.sms_opt_in_at is None


def test_anonymise_blanks_personal_data_and_keeps_the_row(customer):
    accounts.account_set_password(customer=customer, password=STRONG)
    accounts.address_save(customer=customer, data={"line1": "1 rue A", "postcode": "69001", "city": "Lyon"})
    Customer.objects.filter(pk=customer.pk).update(company="ACME", siren="123456789", sms_opt_in=True)
    sent = Notification.objects.create(
        customer=customer,
        kind="shipped",
        language="en",
        recipient=customer.email,
        subject="Shipped",
        body_text="Hello Ana, 3 rue X",
        body_html="<p>Hello Ana</p>",
        dedup_key="k1",
        status="sent",
        sent_at=timezone.now(),
    )
    pending = Notification.objects.create(
        customer=customer,
        kind="delivered",
        language="en",
        recipient=customer.email,
        body_text="Hi Ana",
        dedup_key="k2",
    )

    accounts.customer_anonymise(customer=customer)

    customer.refresh_from_db()
    assert customer.email.startswith(f"anonymised-{customer.pk}-") and customer.email.endswith(
        "@anonymised.invalid"
    )
    assert (customer.first_name, customer.last_name, customer.phone, customer.company, customer.siren) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert not customer.sms_opt_in
    assert not Address.objects.exists() and not CustomerAccount.objects.exists()
    sent.refresh_from_db()
    pending.refresh_from_db()
    assert (sent.recipient, sent.body_text, sent.body_html) == (customer.email, "", "")
    assert pending.status == "failed" and pending.body_text == ""
    assert accounts.account_authenticate(email="ana.roux@example.fr", password=STRONG) is None
    assert accounts.account_link_send(email=customer.email, link_url="https://shop/{token}") is False


def test_two_anonymised_customers_get_distinct_placeholders():
    one, two = CustomerFactory(), CustomerFactory()

    accounts.customer_anonymise(customer=one)
    accounts.customer_anonymise(customer=two)

    one.refresh_from_db()
    two.refresh_from_db()
    assert one.email != two.email
