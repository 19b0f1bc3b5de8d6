"""Managers' settings pages that replace Django admin: return rules per channel, return reasons, reorder
policies per location. Bad input comes back on the form and changes nothing."""

from decimal import Decimal

import pytest
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE, MANAGER
from reports.models import ReorderPolicy
from returns.models import ReturnReason, ReturnRule
from tests.orders.factories import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def manager(client, role_users):
    client.force_login(role_users[MANAGER])
    return client


def test_return_rule_is_set_per_channel(manager):
    web = ChannelFactory(code="web", name="Web")
    damaged = ReturnReason.objects.get(code="damaged")
    html = manager.get(reverse("returns:return_settings")).content.decode()
    assert "No rule: returns are refused for this channel." in html
    response = manager.post(
        reverse("returns:return_rule_edit", args=["web"]),
        {"window_days": "14", "fee": "4.90", "photo_reasons": [damaged.pk]},
    )
    assert response.status_code == 302
    rule = ReturnRule.objects.get(channel=web)
    assert (rule.window_days, rule.fee, list(rule.photo_reasons.all())) == (14, Decimal("4.90"), [damaged])
    html = manager.get(reverse("returns:return_settings")).content.decode()
    assert "14 days" in html and "€4.90" in html


def test_a_bad_return_rule_changes_nothing(manager):
    web = ChannelFactory(code="web")
    ReturnRule.objects.create(channel=web, window_days=30)
    response = manager.post(
        reverse("returns:return_rule_edit", args=["web"]), {"window_days": "0", "fee": "-1"}
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"window_days", "fee"}
    assert ReturnRule.objects.get(channel=web).window_days == 30


def test_return_reasons_are_added_and_edited_but_keep_their_code(manager):
    response = manager.post(
        reverse("returns:return_reason_create"),
        {"code": "too_small", "label": "Too small", "position": "60", "active": "on"},
    )
    assert response.status_code == 302
    reason = ReturnReason.objects.get(code="too_small")
    assert (reason.label, reason.our_fault, reason.active) == ("Too small", False, True)
    manager.post(
        reverse("returns:return_reason_edit", args=[reason.pk]),
        {"code": "renamed", "label": "Much too small", "position": "60", "our_fault": "on"},
    )
    reason.refresh_from_db()
    assert (reason.code, reason.label, reason.our_fault, reason.active) == (
        "too_small",
        "Much too small",
        True,
        False,
    )
    response = manager.post(
        reverse("returns:return_reason_create"), {"code": "too_small", "label": "Again", "position": "1"}
    )
    assert response.status_code == 400 and "code" in response.context["form"].errors


def test_reorder_policies_override_and_reset_the_default(manager, warehouse, settings):
    settings.REORDER_LEAD_TIME_DAYS = {"warehouse": 10, "store": 3}
    html = manager.get(reverse("reports:reorder_settings")).content.decode()
    assert "Default of its kind" in html and "10 days" in html
    url = reverse("reports:reorder_policy_edit", args=[warehouse.code])
    assert 'value="10"' in manager.get(url).content.decode()  # starts from the default
    manager.post(url, {"lead_time_days": "21", "review_days": "14"})
    policy = ReorderPolicy.objects.get(location=warehouse)
    assert (policy.lead_time_days, policy.review_days) == (21, 14)
    response = manager.post(url, {"lead_time_days": "0", "review_days": "14"})
    assert response.status_code == 400
    assert ReorderPolicy.objects.get(location=warehouse).lead_time_days == 21
    manager.post(url, {"action": "reset"})
    assert not ReorderPolicy.objects.filter(location=warehouse).exists()


def test_customer_service_cannot_change_settings(client, role_users):
    ChannelFactory(code="web")
    client.force_login(role_users[CUSTOMER_SERVICE])
    assert client.get(reverse("returns:return_settings")).status_code == 403
    response = client.post(reverse("returns:return_rule_edit", args=["web"]), {"window_days": "5"})
    assert response.status_code == 403
    assert not ReturnRule.objects.exists()
