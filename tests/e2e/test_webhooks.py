"""A manager registers a webhook endpoint in the browser, sends it a test event and reads its delivery log;
a real receiver (an HTTP server in a thread) checks the signature with the secret shown once."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from integrations.webhooks.signing import verify
from oms.roles import MANAGER
from tests.oms.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"received, thanks")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oms-hook", received
    server.shutdown()


def test_register_an_endpoint_send_a_test_event_and_read_the_log(
    page, live_server, login, receiver, screenshot, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver runs on this machine
    url, received = receiver
    UserFactory(username="manager", role=MANAGER)
    page.set_viewport_size({"width": 1280, "height": 900})
    login("manager")

    # register
    page.goto(f"{live_server.url}/settings/webhooks/")
    page.click("a[href$='/settings/webhooks/new/']")
    page.fill("#id_url", url)
    page.fill("#id_description", "CRM")
    page.check("input[name=events][value='order.status_changed']")
    page.click("form.form button[type=submit]")
    secret = page.locator("#secret").input_value()
    assert secret.startswith("whsec_")
    screenshot("webhook-registered")
    page.click(".key-once .btn--primary")

    # send a test event
    expect(page.locator("h1")).to_contain_text("127.0.0.1")
    page.click("form[action$='/test/'] button")
    row = page.locator("#delivery-log tbody tr").first
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("HTTP 200")
    expect(row.locator(".badge--done")).to_be_visible()
    expect(row).to_contain_text("received, thanks")
    screenshot("webhook-delivery-log")

    # the receiver got it, signed with the secret shown once
    assert len(received) == 1
    headers, body = received[0]
    assert verify(secret=secret, body=body, header=headers["OMS-Signature"])
    assert json.loads(body)["type"] == "webhook.test"

    # the delivery's page: its attempts and payload
    row.locator("a").click()
    expect(page.locator("pre.payload").last).to_contain_text('"type": "webhook.test"')
    expect(page.locator("main")).to_contain_text(headers["OMS-Delivery-Id"])
