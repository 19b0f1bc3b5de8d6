"""A signed webhook is a machine's request: the page-only middleware (sessions, locale, authentication,
messages, htmx, the replica pin) leaves it alone, so its accept path (bench/webhooks.py, p95 < 20 ms) pays
for none of it and answers without a cookie; pages keep all of it."""

import pytest
from django.conf import settings

from channels.models import WebhookDelivery
from oms.roles import MANAGER
from tests.oms.factories import UserFactory

from .conftest import post_shopify, shopify_order

pytestmark = pytest.mark.django_db


def test_a_webhook_from_a_browser_with_a_session_sets_no_cookie_and_is_not_touched_by_page_middleware(
    client, shopify_channel, django_capture_on_commit_callbacks
):
    # given: the client carries a signed-in session, an English language cookie and htmx headers (the site's
    # language is French)
    assert settings.LANGUAGE_CODE == "fr"
    client.force_login(UserFactory(role=MANAGER))
    client.cookies["django_language"] = "en"
    session_key = client.cookies["sessionid"].value

    # when
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/webhooks/shopify/shopify/",
            data=b"{}",
            content_type="application/json",
            headers={"Accept-Language": "en", "HX-Request": "true", "X-Shopify-Hmac-Sha256": "bad"},
        )
        accepted = post_shopify(client, "shopify", shopify_order(), webhook_id="wh-machine")

    # then: refused (the error format's message), no cookie set, nothing varies on cookies or language
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The X-Shopify-Hmac-Sha256 signature does not match."
    for answer in (response, accepted):
        assert answer.cookies == {}
        assert "Cookie" not in answer.get("Vary", "")
        assert "Accept-Language" not in answer.get("Vary", "")
        assert "Content-Language" not in answer
        request = answer.wsgi_request
        assert not hasattr(request, "session")
        assert not hasattr(request, "_messages")
        assert not hasattr(request, "htmx")
        assert request.user.is_anonymous  # the session's user is not loaded: the signature is the proof
        assert request.LANGUAGE_CODE == "fr"  # the site's, as in a worker: not the browser's
    # the security headers stay
    assert accepted["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in accepted
    assert accepted.status_code == 200
    assert WebhookDelivery.objects.get().delivery_id == "wh-machine"
    assert client.cookies["sessionid"].value == session_key  # the browser's session is untouched


def test_pages_keep_the_whole_middleware(client):
    # given: a French browser, then signed in
    client.cookies["django_language"] = "fr"
    user = UserFactory(role=MANAGER)
    client.force_login(user)

    # when
    response = client.get("/orders/", headers={"HX-Request": "true"})

    # then: session, user, language, messages and htmx as before
    request = response.wsgi_request
    assert response.status_code == 200
    assert request.session.session_key == client.cookies["sessionid"].value
    assert request.user == user
    assert request.LANGUAGE_CODE == "fr" and response["Content-Language"] == "fr"
    assert "Cookie" in response["Vary"] and "Accept-Language" in response["Vary"]
    assert request.htmx
    assert hasattr(request, "_messages")
