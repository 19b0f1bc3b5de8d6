"""A real Celery worker killed with SIGKILL in the middle of rendering an invoice: its job waits in the
database, is taken over by beat's sweep once the lease expires (seconds here, minutes in production, not the
broker's one-hour visibility timeout), and is done once; a redelivered message does nothing."""

import datetime as dt
import signal
from pathlib import Path

import pytest
from django.utils import timezone

from common import jobs
from invoicing.models import DocumentDelivery, Invoice
from invoicing.services.issue import invoice_issue_for_order
from invoicing.tasks import render_document
from tests.invoicing.factories import LegalEntityFactory, order_with_lines

from .conftest import LEASE_SECONDS, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_render_killed_midway_is_finished_by_the_sweep_once(
    broker, start_worker, mailbox, fault_dirs, tmp_path
):
    LegalEntityFactory(email_documents=True)
    order = order_with_lines(lines=[("MUG", "8.50", "5.5", 2)])
    slow = start_worker("slow", slow_render=True)

    # given: an invoice issued here, its rendering queued on commit to the worker, which dies mid-render
    invoice = invoice_issue_for_order(order=order, scope="all")
    mark = tmp_path / "mark"
    wait_for(mark.exists, timeout=30, what="the worker to be rendering")
    assert mark.read_text() == str(invoice.pk)
    held = Invoice.objects.get(pk=invoice.pk)
    assert held.job_lease_until is not None and held.job_attempts == 1
    slow.send_signal(signal.SIGKILL)
    slow.wait(timeout=10)

    # then: nothing half-written; the job is held until its lease expires, and the sweep leaves it alone
    invoice.refresh_from_db()
    assert (invoice.status, invoice.pdf.name) == ("pending", "")
    if invoice.job_lease_until > timezone.now() + dt.timedelta(seconds=0.5):
        assert jobs.sweep()["invoicing.render"] == 0

    # when: another worker runs and beat's sweep comes after the lease
    healthy = start_worker("healthy")
    wait_for(
        lambda: Invoice.objects.filter(pk=invoice.pk, job_lease_until__lte=timezone.now()).exists(),
        timeout=LEASE_SECONDS + 5,
        what="the lease to expire",
    )
    assert jobs.sweep()["invoicing.render"] == 1

    # then: rendered and emailed once
    wait_for(lambda: mailbox.with_text(f"{invoice.number}.pdf"), timeout=60, what="the invoice's email")
    invoice.refresh_from_db()
    assert invoice.status in ("issued", "sent") and invoice.pdf.name
    assert (invoice.job_due_at, invoice.job_lease_until) == (None, None)
    rendered_at = invoice.rendered_at

    # when: the lost message comes back (a redelivery) and beat sweeps again
    redelivered = render_document.apply_async(args=[invoice.pk])
    assert jobs.sweep()["invoicing.render"] == 0
    wait_for(
        lambda: f"{redelivered.id}] succeeded" in healthy.log.read_text(errors="replace"),
        timeout=30,
        what="the redelivered message to be handled",
    )

    # then: nothing is done twice
    invoice.refresh_from_db()
    assert invoice.rendered_at == rendered_at
    assert len(list(Path(fault_dirs["media"]).rglob(f"{invoice.number}-{invoice.legal_entity_id}*.pdf"))) == 1
    assert DocumentDelivery.objects.filter(document=invoice).count() == 1
    assert len(mailbox.with_text(f"{invoice.number}.pdf")) == 1
