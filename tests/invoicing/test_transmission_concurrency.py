"""Never sent twice, with real threads on PostgreSQL: workers racing on one transmission (a task delivered
twice, the beat sweep beside the on-commit task) make one sending."""

import threading

import pytest
from django.db import connection

from invoicing.models import SandboxMessage, Transmission
from invoicing.services import issue
from invoicing.services.issue import invoice_issue_for_order
from invoicing.services.transmission import transmission_send
from tests.invoicing.factories import LegalEntityFactory, b2b_customer, consume, order_with_lines


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_workers_on_one_transmission_send_it_once(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(issue, "_schedule_render", lambda document_id: None)
    monkeypatch.setattr("invoicing.services.transmission._queue", lambda *args, **kwargs: None)
    LegalEntityFactory(platform="sandbox")
    order = order_with_lines(customer=b2b_customer())
    consume(order)
    invoice = invoice_issue_for_order(order=order, scope="shipped")
    transmission = Transmission.objects.get(document=invoice)
    from invoicing.services.render import document_render

    document_render(document_id=invoice.pk)  # rendered once, before the race
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(transmission_send(transmission_id=transmission.pk))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(1 for r in results if r is not None) == 1  # one worker claimed it, seven found it taken
    transmission.refresh_from_db()
    assert transmission.state == "sent" and transmission.attempts == 1
    assert SandboxMessage.objects.count() == 1
