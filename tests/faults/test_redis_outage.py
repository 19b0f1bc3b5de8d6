"""Redis (the cache and the broker) stopped and started around intake, invoicing, the portal and sign-in, on a
real gunicorn and real Celery workers: no 5xx where the request can be served, nothing lost, nothing done
twice, sign-in still rate-limited."""

import email
import email.policy
import re
import time
from pathlib import Path

import pytest
from django.utils import timezone

from common import eventlog, jobs
from common.models import RateLimitCounter
from customers import accounts
from customers.models import AccountLinkEmail, Customer, Notification
from customers.services import notifications_dispatch_due
from inventory.models import StockLevel
from invoicing.models import DocumentDelivery, Invoice
from oms.roles import MANAGER
from orders.models import Order
from tests.oms.factories import UserFactory

from .conftest import order_body, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STRONG = "correct-horse-battery-staple-42"


def subjects(messages: list[str]) -> list[str]:
    return [str(email.message_from_string(m, policy=email.policy.default)["Subject"]) for m in messages]


def due_now(model, **filters) -> None:
    """Wait until the job asked for by the web process is due (JOBS_FIRST_WAIT_SECONDS is 1 there)."""
    wait_for(
        lambda: model.objects.filter(job_due_at__lte=timezone.now(), **filters).exists(),
        timeout=5,
        what=f"a due {model.__name__}",
    )


def form_post(client, path: str, data: dict):
    """GET the form (it sets the CSRF cookie), then POST it with the token, as a browser does."""
    assert client.get(path).status_code == 200
    return client.post(path, data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]})


def test_an_order_taken_while_redis_is_down_is_answered_201_and_its_invoice_follows_once_redis_is_back(
    web, redis, broker, start_worker, store_front, mailbox, fault_dirs
):
    api = web.client(headers={"Authorization": f"Bearer {store_front['key']}"})
    mark = web.mark()
    redis.stop()

    # when: an order comes in while the cache and the broker are down
    started = time.monotonic()
    response = api.post(
        "/api/v1/orders/", json=order_body("SHOP-5001"), headers={"Idempotency-Key": "k-5001"}
    )
    elapsed = time.monotonic() - started

    # then: it is taken and answered at once
    assert response.status_code == 201, response.text
    assert elapsed < 3, f"intake took {elapsed:.2f} s with Redis down"
    number = response.json()["number"]
    order = Order.objects.get(number=number)
    assert order.status == "allocated"
    assert StockLevel.objects.get(product=store_front["product"], location=store_front["lyon"]).reserved == 2
    # the client's retry is replayed from the database; reading the order works too
    again = api.post("/api/v1/orders/", json=order_body("SHOP-5001"), headers={"Idempotency-Key": "k-5001"})
    assert again.status_code == 201 and again.json() == response.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/api/v1/orders/{number}/").status_code == 200
    assert Order.objects.count() == 1
    # what follows the order (its invoice, the customer's message) waits in the event log: the consumers'
    # messages could not be queued
    assert not Invoice.objects.filter(order=order).exists()
    assert not Notification.objects.filter(order=order).exists()
    health = web.client().get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    assert body["cache"]["ok"] is False and body["broker"]["ok"] is False and body["database"]["ok"] is True
    assert body["events"]["consumers"]["invoicing.issue"]["waiting"] >= 1

    # when: Redis comes back (empty), a worker runs, and beat's sweeps run (the event log's, then the jobs')
    redis.start()
    start_worker("a")
    assert eventlog.consume_all() > 0
    invoice = Invoice.objects.get(order=order)
    notification = Notification.objects.get(order=order, kind="order_received")
    Invoice.objects.filter(pk=invoice.pk).update(job_due_at=timezone.now())  # as if its message was lost
    jobs.sweep()
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    notifications_dispatch_due()

    # then: the PDF is rendered, and emailed to the buyer with the order's confirmation, each once
    wait_for(lambda: mailbox.with_text(f"{invoice.number}.pdf"), timeout=60, what="the invoice's email")
    confirmation = f"Nous avons bien reçu votre commande {number}"
    # (the invoice's email names the order too: wait for the confirmation's own subject)
    wait_for(
        lambda: confirmation in subjects(mailbox.messages()), timeout=30, what="the order's confirmation"
    )
    # (the render the sweep queued again may find the job held by the first one's claim and leave it to its
    # lease: the PDF is rendered once either way, checked below, and nothing is left overdue)
    invoice.refresh_from_db()
    assert invoice.status in ("issued", "sent") and invoice.pdf.name.endswith(".pdf")
    assert len(list(Path(fault_dirs["media"]).rglob(f"{invoice.number}-{invoice.legal_entity_id}*.pdf"))) == 1
    wait_for(
        lambda: DocumentDelivery.objects.filter(document=invoice, status="sent").exists(),
        timeout=30,
        what="the invoice's email to be marked sent",
    )
    assert DocumentDelivery.objects.filter(document=invoice).count() == 1
    assert subjects(mailbox.messages()).count(f"Facture {invoice.number} de Maison Exemple") == 1
    assert subjects(mailbox.messages()).count(confirmation) == 1
    # nothing is left to do, nothing is queued twice
    assert jobs.sweep() == {kind.name: 0 for kind in jobs.registered()}
    health = web.client().get("/healthz").json()
    assert health["status"] == "ok" and health["jobs"]["overdue"] == 0
    assert web.server_errors(mark) == []


def test_the_portal_and_sign_in_work_while_redis_is_down_and_stay_rate_limited(
    web, redis, broker, start_worker, store_front, mailbox
):
    # given: an order placed while Redis was up, a customer with a password, a manager
    api = web.client(headers={"Authorization": f"Bearer {store_front['key']}"})
    created = api.post("/api/v1/orders/", json=order_body("SHOP-6001"))
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    tracking_path = "/" + created.json()["tracking_url"].split("/", 3)[3]
    customer = Customer.objects.get(email="ana.roux@example.fr")
    accounts.account_set_password(customer=customer, password=STRONG)
    UserFactory(username="mia", role=MANAGER, password=STRONG)
    mark = web.mark()
    redis.stop()

    # the tracking lookup finds the order...
    portal = web.client()
    found = form_post(portal, "/track/", {"number": number, "email": "ana.roux@example.fr"})
    assert found.status_code == 302 and found.headers["location"] == tracking_path
    assert portal.get(tracking_path).status_code == 200
    # ... and still limits guesses per order (3 a quarter of an hour here), counted in the database
    guesses = [
        form_post(portal, "/track/", {"number": number, "email": f"x{i}@example.fr"}) for i in range(3)
    ]
    assert [r.status_code for r in guesses] == [200, 200, 429]
    assert RateLimitCounter.objects.filter(count=4).count() == 2  # this order's window, this address's

    # a customer signs in with their password
    signin = web.client()
    response = form_post(signin, "/account/signin/", {"email": customer.email, "password": STRONG})
    assert response.status_code == 302 and response.headers["location"] == "/account/"
    assert signin.get("/account/").status_code == 200

    # a customer asks for a sign-in link while the broker is down: the same answer as always
    link_client = web.client()
    response = form_post(link_client, "/account/signin/", {"action": "link", "email": customer.email})
    assert response.status_code == 302
    request = AccountLinkEmail.objects.get(customer=customer)
    assert request.status == "pending" and "{token}" in request.link_url

    # password guessing stays limited (4 a quarter of an hour per address here): the 5th try is refused
    guesser = web.client()
    tries = [
        form_post(guesser, "/account/signin/", {"email": customer.email, "password": f"wrong-{i}"})
        for i in range(3)
    ]
    assert [r.status_code for r in tries] == [200, 200, 429]

    # a manager signs in to the back office
    staff = web.client()
    response = form_post(staff, "/accounts/login/", {"username": "mia", "password": STRONG})
    assert response.status_code == 302 and response.headers["location"] == "/"
    assert staff.get("/").status_code == 200
    assert web.server_errors(mark) == []

    # when: Redis comes back, a worker runs, beat's sweep runs
    redis.start()
    start_worker("a")
    due_now(AccountLinkEmail, pk=request.pk)
    assert jobs.sweep()["customers.account_link"] == 1

    # then: the link is emailed once, and it signs in
    [message] = wait_for(lambda: mailbox.with_text("/account/link/"), timeout=30, what="the sign-in email")
    url = re.search(r"http://127\.0\.0\.1:\d+(/account/link/[^/\s]+/)", message).group(1)
    assert web.client().get(url).status_code == 200
    request.refresh_from_db()
    assert request.status == "sent" and request.job_due_at is None
    assert jobs.sweep()["customers.account_link"] == 0
    time.sleep(0.5)
    assert len(mailbox.with_text("/account/link/")) == 1
