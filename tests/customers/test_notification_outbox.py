"""The notification outbox: nothing lost when the broker or the mail server is down, nothing sent twice."""

import datetime as dt
import smtplib
import threading
import time
from unittest import mock

import pytest
from django.core import mail
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from customers import services
from customers.exceptions import NotificationNotResendable, SmsNotAllowed
from customers.models import Customer, Notification
from customers.tasks import dispatch_due_notifications, send_notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    return Customer.objects.create(email="ana@example.fr", first_name="Ana", language="en")


def _queue(customer, key="order:1:shipped:x:email", **kwargs):
    kwargs.setdefault("recipient", customer.email)
    with transaction.atomic():
        return services.notification_queue(
            customer=customer,
            kind="shipped",
            subject="Your order has shipped",
            body_text="Text part",
            body_html="<p>HTML part</p>",
            dedup_key=key,
            **kwargs,
        )


def _make_due(notification):
    Notification.objects.filter(pk=notification.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_sent_after_commit_with_html_and_text_parts(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = _queue(customer)
        assert mail.outbox == []  # nothing leaves before the commit
    [message] = mail.outbox
    assert message.body == "Text part"
    assert message.alternatives[0] == ("<p>HTML part</p>", "text/html")
    assert message.extra_headers["Message-ID"] == f"<notification.{notification.pk}@oms.localhost>"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 1, "")


def test_the_same_event_is_queued_once(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue(customer)
        again = _queue(customer)
    assert first is not None and again is None
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_queueing_is_one_statement_whether_new_or_already_there(customer, django_assert_num_queries):
    # INSERT ... ON CONFLICT (dedup_key) DO NOTHING: no read before it, no savepoint around it
    with transaction.atomic():
        with django_assert_num_queries(1):
            first = services.notification_queue(
                customer=customer, kind="shipped", recipient=customer.email, body_text="x", dedup_key="k:1"
            )
        with django_assert_num_queries(1):
            again = services.notification_queue(
                customer=customer, kind="shipped", recipient=customer.email, body_text="x", dedup_key="k:1"
            )
    assert first.pk and first.created_at and again is None
    assert Notification.objects.get().pk == first.pk


def test_broker_outage_loses_nothing_and_beat_sends_it(customer, django_capture_on_commit_callbacks):
    # given the broker refuses the task queued on commit
    with mock.patch.object(send_notification, "apply_async", side_effect=OperationalError("broker down")):
        with django_capture_on_commit_callbacks(execute=True):
            notification = _queue(customer)
    notification.refresh_from_db()
    assert notification.status == "pending" and mail.outbox == []

    # beat leaves it alone during its first minute (the on-commit task may still be on its way)...
    assert dispatch_due_notifications() == 0
    assert mail.outbox == []

    # ... then, the broker back, queues it again and it is sent, once
    _make_due(notification)
    assert dispatch_due_notifications() == 1
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.attempts == 1
    _make_due(notification)
    assert dispatch_due_notifications() == 0
    assert len(mail.outbox) == 1


def test_beat_outage_while_dispatching_keeps_the_row_for_later(customer):
    notification = _queue(customer)
    _make_due(notification)
    with mock.patch.object(send_notification, "apply_async", side_effect=OperationalError("broker down")):
        assert dispatch_due_notifications() == 0
    notification.refresh_from_db()
    assert notification.status == "pending"
    # leased for a few minutes, then due again
    assert notification.next_attempt_at > timezone.now() + dt.timedelta(minutes=4)
    _make_due(notification)
    assert dispatch_due_notifications() == 1
    assert len(mail.outbox) == 1


def test_a_second_run_of_the_task_does_not_send_twice(customer):
    notification = _queue(customer)
    assert send_notification(notification.pk) == "sent"
    assert send_notification(notification.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_sending_is_a_claim_and_a_mark_two_statements(customer, django_assert_num_queries):
    notification = _queue(customer)
    with django_assert_num_queries(2):  # the row locked, claimed and returned by one UPDATE; then sent
        assert services.notification_send(notification_id=notification.pk) == "sent"
    with django_assert_num_queries(1):  # sent already: the claim finds nothing
        assert services.notification_send(notification_id=notification.pk) == "skipped"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, len(mail.outbox)) == ("sent", 1, 1)


def test_mail_server_down_retries_with_backoff_then_fails_visibly(customer, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    notification = _queue(customer)
    down = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=down):
        before = timezone.now()
        assert services.notification_send(notification_id=notification.pk) == "retry"
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("pending", 1)
        assert "SMTPServerDisconnected: Connection unexpectedly closed" in notification.last_error
        wait = notification.next_attempt_at - before
        assert dt.timedelta(seconds=59) < wait < dt.timedelta(seconds=62)  # 1 minute, then 2, 4...

        assert services.notification_send(notification_id=notification.pk) == "retry"
        notification.refresh_from_db()
        wait = notification.next_attempt_at - timezone.now()
        assert dt.timedelta(seconds=115) < wait <= dt.timedelta(seconds=120)

        assert services.notification_send(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.next_attempt_at) == ("failed", 3, None)
    assert services.notification_send(notification_id=notification.pk) == "skipped"
    assert mail.outbox == []


def test_the_mail_server_recovers_before_the_last_attempt(customer):
    notification = _queue(customer)
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("timed out")):
        assert services.notification_send(notification_id=notification.pk) == "retry"
    _make_due(notification)
    assert dispatch_due_notifications() == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1


def test_a_refused_address_fails_at_once(customer):
    notification = _queue(customer)
    refused = smtplib.SMTPRecipientsRefused({customer.email: (550, b"No such user")})
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=refused):
        assert services.notification_send(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)


def test_a_row_stuck_in_sending_is_taken_again_after_the_timeout(customer):
    notification = _queue(customer)
    # a worker claimed it, then died before sending
    Notification.objects.filter(pk=notification.pk).update(
        status="sending", attempts=1, claimed_at=timezone.now(), next_attempt_at=timezone.now()
    )
    assert services.notification_send(notification_id=notification.pk) == "skipped"  # maybe still sending
    Notification.objects.filter(pk=notification.pk).update(
        claimed_at=timezone.now() - dt.timedelta(minutes=11), next_attempt_at=timezone.now()
    )
    assert dispatch_due_notifications() == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 2)


def test_resend_writes_a_new_row_to_the_current_address(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        original = _queue(customer)
    Customer.objects.filter(pk=customer.pk).update(email="ana.roux@example.fr")
    with django_capture_on_commit_callbacks(execute=True):
        resent = services.notification_resend(notification=original, actor=None)
    assert resent.resend_of == original
    assert resent.recipient == "ana.roux@example.fr"
    assert (resent.subject, resent.body_text, resent.body_html) == (
        original.subject,
        original.body_text,
        original.body_html,
    )
    resent.refresh_from_db()
    original.refresh_from_db()
    assert resent.status == "sent" and original.status == "sent"
    assert [m.to for m in mail.outbox] == [["ana@example.fr"], ["ana.roux@example.fr"]]
    # and again: a third row
    second = services.notification_resend(notification=original)
    assert second.dedup_key != resent.dedup_key


def test_resend_refused_while_the_message_is_on_its_way(customer):
    notification = _queue(customer)
    with pytest.raises(NotificationNotResendable):
        services.notification_resend(notification=notification)
    assert Notification.objects.count() == 1


def test_resend_of_a_text_message_needs_consent(customer):
    customer.phone = "+33612345678"
    customer.save()
    notification = _queue(customer, channel="sms", recipient=customer.phone, key="order:1:shipped:x:sms")
    send_notification(notification.pk)
    with pytest.raises(SmsNotAllowed):
        services.notification_resend(notification=notification)
    assert Notification.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stagger", [0, 0.1], ids=["together", "second-while-first-delivers"])
def test_two_concurrent_senders_send_once(stagger):
    customer = Customer.objects.create(email="ana@example.fr", language="en")
    with mock.patch.object(send_notification, "apply_async"):  # the on-commit task does not run here
        notification = _queue(customer)
    sent = []
    start = threading.Barrier(2)

    def slow_deliver(row):
        sent.append(row.pk)
        time.sleep(0.3)  # the other sender tries meanwhile

    outcomes = []

    def sender(delay):
        try:
            start.wait()
            time.sleep(delay)
            outcomes.append(services.notification_send(notification_id=notification.pk))
        finally:
            close_old_connections()
            connection.close()

    with mock.patch.object(services, "_deliver", side_effect=slow_deliver):
        threads = [threading.Thread(target=sender, args=(delay,)) for delay in (0, stagger)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["sent", "skipped"]
    assert sent == [notification.pk]
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transactions_queue_one_message():
    customer = Customer.objects.create(email="ana@example.fr", language="en")
    start = threading.Barrier(2)
    results = []

    def writer():
        try:
            start.wait()
            with transaction.atomic():
                results.append(_queue(customer, key="order:9:delivered:delivered:email"))
                time.sleep(0.2)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r is None for r in results) == [False, True]
    assert Notification.objects.filter(dedup_key="order:9:delivered:delivered:email").count() == 1


def test_the_log_sms_backend_writes_the_message_to_the_log(caplog):
    from customers.sms import LogBackend

    with caplog.at_level("INFO", logger="customers.sms"):
        assert LogBackend().send(to="+33612345678", text="Votre commande", reference="notification-7") == (
            "log-notification-7"
        )
    assert "SMS to +33612345678 (notification-7): Votre commande" in caplog.text


def test_an_sms_provider_error_is_retried_unless_permanent(customer, settings):
    from customers.sms import SmsError

    customer.phone = "+33612345678"
    customer.save()
    notification = _queue(customer, channel="sms", recipient="+33612345678", key="k:sms")
    with mock.patch("customers.sms.LocmemBackend.send", side_effect=SmsError("503 from provider")):
        assert services.notification_send(notification_id=notification.pk) == "retry"
    _make_due(notification)
    with mock.patch(
        "customers.sms.LocmemBackend.send", side_effect=SmsError("invalid number", permanent=True)
    ):
        assert dispatch_due_notifications() == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 2)
    assert "invalid number" in notification.last_error


def test_admin_lists_notifications_read_only(admin_client, customer):
    from django.urls import reverse

    _queue(customer)
    response = admin_client.get(reverse("admin:customers_notification_changelist"))
    assert response.status_code == 200
    assert customer.email in response.content.decode()
    assert admin_client.get(reverse("admin:customers_notification_add")).status_code == 403


def _fresh_broker_pools(app):
    """Make Celery open new connections with the current broker URL (it caches its pools); the old pools
    are dropped, not closed, as something may still hold them."""
    app._pool = None
    app.amqp._producer_pool = None


def test_a_real_unreachable_broker_loses_nothing(customer, django_capture_on_commit_callbacks, settings):
    """Not a mock: the task really goes to a Redis broker that refuses connections (nothing listens on
    port 1); the commit still succeeds, the row waits, and beat sends it once the broker is back."""
    from oms.celery import app

    old = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    _fresh_broker_pools(app)
    started = time.monotonic()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notification = _queue(customer)
    finally:
        app.conf.task_always_eager, app.conf.broker_url = old
        _fresh_broker_pools(app)
    assert time.monotonic() - started < 2  # the committing request does not hang on the dead broker
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("pending", 0)
    assert mail.outbox == []

    _make_due(notification)
    assert dispatch_due_notifications() == 1  # eager again: the "worker" runs it
    notification.refresh_from_db()
    assert notification.status == "sent"
    assert len(mail.outbox) == 1
