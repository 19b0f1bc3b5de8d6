"""The Content-Security-Policy (README "Content-Security-Policy"): one enforced policy on every response,
the few pages that need more loosening only their own response. The back-office pages are checked one by
one in test_roles.py (the role matrix); the browser test tests/e2e/test_csp.py proves the pages work
under it."""

import pytest
from django.test import Client

from oms.roles import MANAGER, WAREHOUSE_STAFF
from tests.orders.factories import OrderFactory

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def directives(header: str) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else "" for part in header.split("; ")
    }


def test_the_policy_is_enforced_not_report_only(client):
    response = client.get("/accounts/login/")

    assert directives(response["Content-Security-Policy"]) == directives(POLICY)
    assert "Content-Security-Policy-Report-Only" not in response


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/track/",
        "/account/signin/",
        "/api/v1/docs/",
        "/api/v1/docs/?script=",
        "/admin/login/",
        "/no-such-page/",  # the 404 page
        "/api/v1/no-such-endpoint/",  # an API 404 (JSON)
        "/api/v1/schema/",
        "/healthz",
        "/track/theme.css",
    ],
)
def test_public_pages_carry_the_policy(client, path):
    response = client.get(path)

    assert directives(response["Content-Security-Policy"]) == directives(POLICY), response.status_code


def test_the_tracking_page_and_its_fragments_carry_the_policy(client, warehouse):
    order = OrderFactory(number="CMD-CSP-1")

    for path in (order.tracking_path, f"{order.tracking_path}invoices/", "/track/not-a-token/"):
        response = client.get(path)
        assert directives(response["Content-Security-Policy"]) == directives(POLICY), path


def test_customer_account_pages_carry_the_policy(client, warehouse):
    from customers.accounts import account_set_password

    order = OrderFactory(number="CMD-CSP-2")
    account_set_password(customer=order.customer, password="Un-mot-de-passe-2026")
    client.post("/account/signin/", {"email": order.customer.email, "password": "Un-mot-de-passe-2026"})

    for path in ("/account/", "/account/addresses/", "/account/preferences/", "/account/data/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert directives(response["Content-Security-Policy"]) == directives(POLICY), path


def test_error_pages_carry_the_policy(client, role_users, monkeypatch):
    client.force_login(role_users[WAREHOUSE_STAFF])
    forbidden = client.get("/settings/channels/")  # managers only: the 403 page
    assert forbidden.status_code == 403
    assert directives(forbidden["Content-Security-Policy"]) == directives(POLICY)

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("oms.views.dashboard_figures", broken)
    server_error = Client(raise_request_exception=False)
    server_error.force_login(role_users[WAREHOUSE_STAFF])
    response = server_error.get("/")
    assert response.status_code == 500
    assert directives(response["Content-Security-Policy"]) == directives(POLICY)


def test_django_admin_pages_carry_the_policy(client, role_users):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.fr", "x")
    client.force_login(admin)
    order = OrderFactory(number="CMD-CSP-3")

    for path in (
        "/admin/",
        "/admin/orders/order/",
        f"/admin/orders/order/{order.pk}/change/",
        "/admin/django_celery_beat/periodictask/add/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert directives(response["Content-Security-Policy"]) == directives(POLICY), path
        assert "<script>" not in response.content.decode(), path


def test_redoc_alone_gets_its_nonce_worker_and_logo(client):
    response = client.get("/api/v1/redoc/")
    policy = directives(response["Content-Security-Policy"])
    html = response.content.decode()

    nonce = policy["style-src"].split("'nonce-")[1].split("'")[0]
    assert policy["style-src"] == (
        f"'self' 'nonce-{nonce}' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"
    )
    assert policy["worker-src"] == "'self' blob:"
    assert policy["img-src"] == "'self' data: https://cdn.redoc.ly"
    assert policy["script-src"] == "'self'"  # scripts stay our own files
    assert f'nonce="{nonce}"' in html
    # a new nonce for every response
    again = directives(client.get("/api/v1/redoc/")["Content-Security-Policy"])["style-src"]
    assert nonce not in again


def test_other_pages_get_no_nonce(client, role_users):
    client.force_login(role_users[MANAGER])

    assert "nonce" not in client.get("/")["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("logo_url", "img_src"),
    [
        ("", ["'self'", "data:"]),
        ("https://cdn.example.fr/brand/logo.png", ["'self'", "data:", "https://cdn.example.fr"]),
        ("/static/img/favicon.svg", ["'self'", "data:"]),  # our own: nothing to add
    ],
)
def test_the_merchant_logo_host_is_allowed_for_images(logo_url, img_src):
    """The portal shows MERCHANT_LOGO_URL: its host, and only it, joins img-src (settings are read once, at
    start-up: a process of its own)."""
    import json
    import os
    import subprocess
    import sys

    from django.conf import settings

    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "oms.settings.test", "MERCHANT_LOGO_URL": logo_url}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == img_src


def test_no_template_has_inline_scripts_styles_or_handlers():
    """The policy refuses them: a template that adds one breaks its page in the browser."""
    import re
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    folders = [root / "templates"] + [
        root / app / "templates"
        for app in (
            "common",
            "inventory",
            "customers",
            "shipping",
            "fulfillment",
            "orders",
            "invoicing",
            "oms",
        )
    ]
    comments = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.I)
    offenders = []
    for folder in folders:
        for path in folder.glob("**/*.html"):
            relative = path.relative_to(root).as_posix()
            if "/pdf/" in relative or "/email" in relative or "/labels/" in relative:
                continue  # PDFs and labels (WeasyPrint) and emails are not pages of a browser
            text = comments.sub("", path.read_text())
            offenders += [f"{relative}: {match.group(0)}" for match in inline.finditer(text)]
    assert offenders == []


@pytest.mark.parametrize(
    ("content_type", "has_policy"),
    [
        ("application/pdf", False),  # Chrome's PDF viewer breaks under a policy (common/csp.py)
        ("text/html; charset=utf-8", True),
        ("application/json", True),
        ("image/svg+xml", True),
        ("text/plain", True),
    ],
)
def test_pdf_files_alone_go_without_the_policy(rf, content_type, has_policy):
    from django.http import HttpResponse

    from common.csp import ContentSecurityPolicyMiddleware

    def view(request):
        return HttpResponse(b"x", content_type=content_type)

    response = ContentSecurityPolicyMiddleware(view)(rf.get("/file"))

    assert ("Content-Security-Policy" in response) is has_policy


def test_the_policy_built_once_follows_the_settings_and_a_page_asking_for_a_nonce(client, settings):
    """The policy of the settings alone is built once per process (common/csp.py): changed settings build
    it again, and a page that uses a nonce still gets a policy with its nonce."""
    from csp.constants import SELF

    # given: the policy was built for a first response
    assert directives(client.get("/accounts/login/")["Content-Security-Policy"]) == directives(POLICY)
    # when: the settings change
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": [SELF]}
    }
    # then
    assert directives(client.get("/accounts/login/")["Content-Security-Policy"])["img-src"] == "'self'"
    # and a page with a nonce and its own additions (ReDoc) still gets them, on the changed settings
    redoc = directives(client.get("/api/v1/redoc/")["Content-Security-Policy"])
    assert "'nonce-" in redoc["style-src"]
    assert redoc["img-src"] == "'self' https://cdn.redoc.ly"
