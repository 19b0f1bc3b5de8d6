"""Shipping rules: the first match by position wins, the sourced service otherwise; the managers' pages
(list with reorder, create and edit with clear errors, delete with confirmation)."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from oms.roles import MANAGER
from shipping.models import ShippingRule
from shipping.rule_services import InvalidRule, RuleInput, rule_choose, rule_delete, rule_move, rule_save
from tests.orders.factories import ChannelFactory

from .factories import CarrierFactory, CarrierServiceFactory


@pytest.fixture
def services(db):
    colissimo = CarrierFactory(code="colissimo", name="Colissimo")
    return {
        "home": CarrierServiceFactory(carrier=colissimo, name="Domicile", delivery_mode="home"),
        "express": CarrierServiceFactory(
            carrier=CarrierFactory(code="chronopost", name="Chronopost"),
            name="Chrono 13",
            delivery_mode="home",
            is_express=True,
        ),
        "relay": CarrierServiceFactory(
            carrier=colissimo, name="Point Retrait", delivery_mode="relay", max_weight_g=20000
        ),
    }


def choose(**kwargs):
    values = {
        "channel_id": None,
        "delivery_mode": "home",
        "country": "FR",
        "weight_g": 1000,
        "order_value": Decimal("50.00"),
        "default_service_id": None,
    }
    values.update(kwargs)
    return rule_choose(**values)


def test_no_rule_keeps_the_sourced_service(services, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        service, rule = choose(default_service_id=services["home"].pk)
    assert (service, rule) == (services["home"], None)
    assert choose() == (None, None)


def test_first_matching_rule_by_position_wins(services):
    channel = ChannelFactory(code="b2b")
    heavy = rule_save(data=RuleInput(name="Heavy", service=services["express"], min_weight_g=5000))
    b2b = rule_save(data=RuleInput(name="B2B", service=services["express"], channel_id=channel.pk))
    big = rule_save(
        data=RuleInput(name="Big orders", service=services["home"], min_order_value=Decimal("100"))
    )
    assert [r.position for r in (heavy, b2b, big)] == [0, 1, 2]
    default = services["relay"].pk
    assert choose(weight_g=6000, default_service_id=default) == (services["express"], heavy)
    assert choose(weight_g=5000, default_service_id=default)[1] == heavy  # inclusive
    assert choose(channel_id=channel.pk, default_service_id=default)[1] == b2b
    assert choose(order_value=Decimal("100.00"), default_service_id=default)[1] == big
    assert choose(order_value=Decimal("99.99"), default_service_id=default) == (services["relay"], None)
    rule_move(rule=big, offset=-5)
    assert choose(weight_g=6000, order_value=Decimal("150"), default_service_id=default)[1] == big


def test_mode_country_and_inactive_rules(services):
    relay = rule_save(
        data=RuleInput(name="Relay BE", service=services["relay"], delivery_mode="relay", country="be")
    )
    assert relay.country == "BE"
    assert choose(delivery_mode="relay", country="BE")[1] == relay
    assert choose(delivery_mode="relay", country="FR")[1] is None
    assert choose(delivery_mode="home", country="BE")[1] is None
    relay.active = False
    relay.save()
    assert choose(delivery_mode="relay", country="BE")[1] is None


def test_a_rule_whose_service_is_off_or_too_small_is_skipped(services):
    first = rule_save(data=RuleInput(name="Relay", service=services["relay"]))
    second = rule_save(data=RuleInput(name="Express", service=services["express"]))
    assert choose(weight_g=25000)[1] == second  # over the relay service's 20 kg
    assert choose(weight_g=1000)[1] == first
    services["relay"].active = False
    services["relay"].save()
    assert choose(weight_g=1000)[1] == second


@pytest.mark.parametrize(
    "data, fields",
    [
        ({"delivery_mode": "relay"}, {"service"}),
        ({"min_weight_g": 2000, "max_weight_g": 1000}, {"max_weight_g"}),
        ({"max_weight_g": 40000}, {"max_weight_g"}),
        ({"min_order_value": Decimal("50"), "max_order_value": Decimal("10")}, {"max_order_value"}),
        ({"country": "FRA"}, {"country"}),
        ({"name": "  "}, {"name"}),
    ],
)
def test_rule_errors_name_their_field_and_write_nothing(services, data, fields):
    values = {"name": "Rule", "service": services["home"], **data}
    with pytest.raises(InvalidRule) as caught:
        rule_save(data=RuleInput(**values))
    assert set(caught.value.details) == fields
    assert ShippingRule.objects.count() == 0


def test_move_and_delete_keep_positions_dense(services):
    a, b, c = (rule_save(data=RuleInput(name=n, service=services["home"])) for n in "abc")
    assert rule_move(rule=c, offset=-1) == 1
    assert list(ShippingRule.objects.values_list("name", "position")) == [("a", 0), ("c", 1), ("b", 2)]
    assert rule_move(rule=a, offset=10**6) == 2
    rule_delete(rule=ShippingRule.objects.get(name="c"))
    assert list(ShippingRule.objects.values_list("name", "position")) == [("b", 0), ("a", 1)]


# Pages


@pytest.fixture
def manager_client(client, role_users):
    client.force_login(role_users[MANAGER])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def form_data(service, **extra):
    data = {
        "name": "Heavy parcels",
        "channel": "",
        "delivery_mode": "",
        "country": "",
        "min_weight_g": "",
        "max_weight_g": "",
        "min_order_value": "",
        "max_order_value": "",
        "service": service.pk,
        "active": "on",
    }
    data.update(extra)
    return data


def test_create_edit_and_list(manager_client, services, django_assert_max_num_queries):
    response = manager_client.post(
        reverse("shipping:rule_create"), form_data(services["express"], min_weight_g="5000")
    )
    rule = ShippingRule.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"#rule-{rule.pk}")
    assert (rule.min_weight_g, rule.service, rule.active) == (5000, services["express"], True)
    response = manager_client.post(
        reverse("shipping:rule_edit", args=[rule.pk]),
        form_data(services["express"], name="Big orders", min_order_value="1000.50", country="fr"),
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.min_order_value, rule.country, rule.min_weight_g) == (
        "Big orders",
        Decimal("1000.50"),
        "FR",
        None,
    )
    rule_save(data=RuleInput(name="Second", service=services["home"], delivery_mode="home"))
    with django_assert_max_num_queries(8):
        html = manager_client.get(reverse("shipping:rule_list")).content.decode()
    assert html.index("Big orders") < html.index("Second")
    assert "order from €1,000.50" in html and "to FR" in html


def test_form_errors_are_shown_and_nothing_saved(manager_client, services):
    response = manager_client.post(
        reverse("shipping:rule_create"),
        form_data(services["home"], delivery_mode="relay", min_weight_g="3000", max_weight_g="1000"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "choose a service of the rule&#x27;s delivery mode" in html
    assert "The maximum weight must be at least the minimum weight." in html
    assert 'value="Heavy parcels"' in html  # what was typed is kept
    assert ShippingRule.objects.count() == 0


def test_reorder_from_the_list(manager_client, services):
    a, b = (rule_save(data=RuleInput(name=n, service=services["home"])) for n in ("First", "Second"))
    response = manager_client.post(reverse("shipping:rule_list"), {"rule": b.pk, "move": "up"})
    assert response.status_code == 302
    assert list(ShippingRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    response = manager_client.post(reverse("shipping:rule_list"), {"rule": 999999, "move": "up"}, follow=True)
    assert "no longer exists" in response.content.decode()


def test_delete_asks_then_deletes(manager_client, services):
    rule = rule_save(data=RuleInput(name="Doomed", service=services["home"]))
    page = manager_client.get(reverse("shipping:rule_delete", args=[rule.pk])).content.decode()
    assert "will follow the next matching rule" in page
    assert ShippingRule.objects.exists()
    response = manager_client.post(reverse("shipping:rule_delete", args=[rule.pk]))
    assert response.status_code == 302 and not ShippingRule.objects.exists()


def test_carriers_page_links_to_the_rules(manager_client, services):
    assert (
        reverse("shipping:rule_list") in manager_client.get(reverse("shipping:service_list")).content.decode()
    )
