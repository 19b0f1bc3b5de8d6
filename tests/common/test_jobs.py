"""common/jobs.py: claims and leases, the sweep, publishing that never raises, named leases. The rows are
sign-in link emails (customers.AccountLinkEmail), a kind registered by the customers app."""

import datetime as dt
import time
from unittest import mock

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from common import jobs
from common.models import Lease
from customers.jobs import ACCOUNT_LINK
from customers.models import AccountLinkEmail
from oms.celery import app
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def request(**fields) -> AccountLinkEmail:
    defaults = {
        "customer": CustomerFactory(),
        "link_url": "https://shop/a/{token}/",
        "job_due_at": jobs.due(),
    }
    return AccountLinkEmail.objects.create(**{**defaults, **fields})


def state(row) -> tuple:
    row.refresh_from_db()
    return row.status, row.job_due_at, row.job_lease_until, row.job_attempts


def test_a_claim_holds_the_job_and_done_clears_it():
    row = request()
    with jobs.claim(ACCOUNT_LINK, row.pk) as job:
        assert job is not None
        row.refresh_from_db()
        assert row.job_lease_until == job.until and row.job_due_at == job.until and row.job_attempts == 1
        assert job.until - timezone.now() == pytest.approx(ACCOUNT_LINK.lease, abs=dt.timedelta(seconds=5))
        with jobs.claim(ACCOUNT_LINK, row.pk) as second:  # a redelivered message meanwhile
            assert second is None
    assert state(row) == ("pending", None, None, 0)


def test_a_job_that_is_not_pending_is_not_claimed():
    row = request(status=AccountLinkEmail.Status.SENT)
    with jobs.claim(ACCOUNT_LINK, row.pk) as job:
        assert job is None
    assert state(row)[2:] == (None, 0)


def test_a_failure_releases_the_job_for_a_retry_and_is_raised():
    row = request()
    before = timezone.now()
    with pytest.raises(OSError), jobs.claim(ACCOUNT_LINK, row.pk):
        raise OSError("smtp down")
    _status, due, lease, attempts = state(row)
    assert lease is None and attempts == 1
    assert due >= before + ACCOUNT_LINK.lease  # due again a lease later (Celery's retry usually comes first)
    with jobs.claim(ACCOUNT_LINK, row.pk) as job:
        assert job is not None


def test_an_expired_lease_is_taken_over():
    row = request(job_lease_until=timezone.now() - dt.timedelta(seconds=1), job_attempts=1)
    with jobs.claim(ACCOUNT_LINK, row.pk) as job:
        assert job is not None
        assert state(row)[3] == 2


def test_a_renewal_extends_the_lease_once_a_third_has_passed():
    row = request()
    with jobs.claim(ACCOUNT_LINK, row.pk) as job:
        first = job.until
        with mock.patch.object(jobs.Claim, "_fenced", side_effect=AssertionError("no write yet")):
            assert job.renew() is True
        AccountLinkEmail.objects.filter(pk=row.pk).update(
            job_lease_until=first - dt.timedelta(seconds=120), job_due_at=first - dt.timedelta(seconds=120)
        )
        job.until = first - dt.timedelta(seconds=120)
        assert job.renew() is True
        row.refresh_from_db()
        assert row.job_lease_until == job.until == row.job_due_at and job.until > first - dt.timedelta(
            seconds=1
        )
        # a lease lost to another worker is not renewed
        AccountLinkEmail.objects.filter(pk=row.pk).update(
            job_lease_until=timezone.now() + dt.timedelta(hours=1)
        )
        job.until -= dt.timedelta(seconds=170)
        assert job.renew() is False


def test_work_asked_for_again_during_the_job_stays_due():
    row = request()
    with jobs.claim(ACCOUNT_LINK, row.pk):
        again = timezone.now() + dt.timedelta(seconds=5)
        AccountLinkEmail.objects.filter(pk=row.pk).update(job_due_at=again)  # e.g. a stock change mid-push
    assert state(row)[1:3] == (again, None)


def test_the_sweep_queues_what_is_due_and_free_and_clears_what_is_finished(settings):
    settings.JOBS_LEASE_SECONDS = 180
    past = timezone.now() - dt.timedelta(seconds=1)
    due = request(job_due_at=past)
    held = request(job_due_at=past, job_lease_until=timezone.now() + dt.timedelta(minutes=1))
    finished = request(job_due_at=past, status=AccountLinkEmail.Status.SENT)
    later = request(job_due_at=timezone.now() + dt.timedelta(minutes=1))

    # tasks run eagerly in tests: the sweep's message sends the email at once
    assert jobs.sweep()["customers.account_link"] == 1

    assert state(due)[0:3] == ("sent", None, None)
    assert [m.to for m in mail.outbox] == [[due.customer.email]]
    assert state(held)[0] == "pending" and state(held)[1] == past
    assert state(finished)[1] is None
    assert state(later)[0] == "pending"
    assert jobs.sweep()["customers.account_link"] == 0


def test_a_job_queued_by_the_sweep_is_not_queued_again_while_it_waits():
    row = request(job_due_at=timezone.now() - dt.timedelta(seconds=1))
    with mock.patch("common.jobs.enqueue", return_value=True) as enqueue:
        assert jobs.sweep()["customers.account_link"] == 1
        assert jobs.sweep()["customers.account_link"] == 0
    assert enqueue.call_count == 1
    assert state(row)[1] > timezone.now() + dt.timedelta(seconds=60)


def test_when_the_broker_is_down_the_sweep_leaves_the_job_due():
    row = request(job_due_at=timezone.now() - dt.timedelta(seconds=1))
    with mock.patch("common.jobs.enqueue", return_value=False):
        assert jobs.sweep()["customers.account_link"] == 0
    assert state(row)[1] <= timezone.now()


def test_a_job_that_never_finishes_is_given_up():
    row = request(job_due_at=timezone.now() - dt.timedelta(seconds=1), job_attempts=ACCOUNT_LINK.max_attempts)
    with jobs.claim(ACCOUNT_LINK, row.pk) as job:
        assert job is None
    with mock.patch("common.jobs.enqueue") as enqueue:
        assert jobs.sweep()["customers.account_link"] == 0
    enqueue.assert_not_called()
    row.refresh_from_db()
    assert (row.status, row.error, row.job_due_at) == ("failed", "Sending never finished.", None)


def test_backlog_counts_waiting_and_overdue_jobs():
    now = timezone.now()
    request(job_due_at=now - dt.timedelta(seconds=90))
    request(job_due_at=now + dt.timedelta(seconds=30))
    request(job_due_at=None, status=AccountLinkEmail.Status.SENT)
    assert jobs.backlog(now=now)["customers.account_link"] == {
        "waiting": 2,
        "overdue": 1,
        "oldest_overdue_seconds": 90,
    }


# --- Publishing ---------------------------------------------------------------------------------------------


@pytest.fixture
def dead_broker():
    """This process publishes to a broker nobody listens to (port 1)."""
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    app._pool = None
    app.amqp._producer_pool = None
    jobs._broker_down_until = 0.0
    yield
    app.conf.broker_url, app.conf.task_always_eager = saved
    app._pool = None
    app.amqp._producer_pool = None
    jobs._broker_down_until = 0.0


@override_settings(BROKER_RETRY_AFTER_SECONDS=30)
def test_publishing_to_a_dead_broker_never_raises_and_costs_little(dead_broker, caplog):
    from oms.tasks import ping

    started = time.monotonic()
    assert jobs.enqueue(ping, "x") is False
    assert time.monotonic() - started < 2
    assert "Broker unavailable, oms.ping('x',) not queued" in caplog.text
    # the next requests do not try again for a while
    with mock.patch.object(ping, "apply_async") as publish:
        assert jobs.enqueue(ping, "y") is False
    publish.assert_not_called()


def test_after_commit_publishing_never_raises_into_the_request(
    dead_broker, django_capture_on_commit_callbacks
):
    from oms.tasks import ping

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        jobs.enqueue_on_commit(ping, "z")
    assert len(callbacks) == 1


def test_an_eager_task_that_fails_is_logged_not_raised(caplog):
    from customers.tasks import send_account_link

    with mock.patch("customers.accounts.account_link_deliver", side_effect=RuntimeError("boom")):
        assert jobs.enqueue(send_account_link, 1) is False
    assert "Task customers.send_account_link(1,) failed" in caplog.text


# --- Named leases -------------------------------------------------------------------------------------------


def test_a_named_lease_has_one_holder_until_released_or_expired():
    with jobs.lease("refresh:1", seconds=60) as held:
        assert held is True
        with jobs.lease("refresh:1", seconds=60) as other:
            assert other is False
        with jobs.lease("refresh:2", seconds=60) as unrelated:
            assert unrelated is True
    assert not Lease.objects.exists()
    with jobs.lease("refresh:1", seconds=60) as again:
        assert again is True
        Lease.objects.filter(name="refresh:1").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        with jobs.lease("refresh:1", seconds=60) as takeover:  # its holder died: the lease expired
            assert takeover is True
