"""The carrier network settings pages: carriers and services, and the grids editor (managers only)."""

from datetime import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF
from shipping.models import Carrier, CarrierService, ServiceRate, ServiceTransit
from tests.shipping.factories import CarrierFactory, CarrierServiceFactory, with_grids


@pytest.fixture
def manager_client(client, role_users):
    client.force_login(role_users[MANAGER])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def service(db):
    return with_grids(CarrierServiceFactory(carrier=CarrierFactory(code="colissimo", name="Colissimo")))


def rates(service) -> list[tuple[int, int, Decimal]]:
    return list(
        ServiceRate.objects.filter(service=service)
        .order_by("max_weight_g", "max_distance_km")
        .values_list("max_weight_g", "max_distance_km", "price_excl_vat")
    )


def transits(service) -> list[tuple[int, int]]:
    return list(
        ServiceTransit.objects.filter(service=service)
        .order_by("max_distance_km")
        .values_list("max_distance_km", "transit_days")
    )


ORIGINAL_RATES = [
    (500, 300, Decimal("4.00")),
    (500, 700, Decimal("4.50")),
    (2000, 300, Decimal("5.00")),
    (2000, 700, Decimal("5.50")),
]


# The list of carriers and services


def test_service_list_shows_carriers_services_and_days(
    manager_client, service, django_assert_max_num_queries
):
    CarrierServiceFactory(carrier=service.carrier, name="Express", is_express=True, delivery_weekdays="12345")
    CarrierFactory(code="empty", name="No Service Yet")
    with django_assert_max_num_queries(8):
        response = manager_client.get(reverse("shipping:service_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="carrier-{service.carrier.pk}"' in html
    assert f'id="service-{service.pk}"' in html
    assert reverse("shipping:service_grids", args=[service.pk]) in html
    assert "No Service Yet" in html
    assert '<span class="weekday" title="Saturday">Sat</span>' in html  # 123456
    assert (
        '<span class="weekday weekday--off" title="Saturday" aria-hidden="true">Sat</span>' in html
    )  # 12345
    assert "4 prices" in html and "2 transit bands" in html


def test_service_list_queries_do_not_grow_with_services(
    manager_client, service, django_assert_max_num_queries
):
    for n in range(10):
        with_grids(CarrierServiceFactory(carrier=CarrierFactory(code=f"c{n}")))
    with django_assert_max_num_queries(8):
        assert manager_client.get(reverse("shipping:service_list")).status_code == 200


@pytest.mark.parametrize("role", [WAREHOUSE_STAFF, STORE_STAFF, CUSTOMER_SERVICE])
def test_others_cannot_change_the_network(client, role_users, service, role):
    client.force_login(role_users[role])
    url = reverse("shipping:service_grids", args=[service.pk])
    response = client.post(url, {"action": "delete", "band": "weight", "value": "500"})
    assert response.status_code == 403
    response = client.post(
        reverse("shipping:carrier_create"), {"code": "x", "name": "X", "adapter": "sandbox"}
    )
    assert response.status_code == 403
    assert rates(service) == ORIGINAL_RATES
    assert not Carrier.objects.filter(code="x").exists()


# Carriers and services


def test_manager_adds_a_carrier_then_a_service(manager_client):
    response = manager_client.post(
        reverse("shipping:carrier_create"),
        {"code": "dhl", "name": "DHL", "adapter": "dhl", "active": "on"},
    )
    assert response.status_code == 302
    carrier = Carrier.objects.get(code="dhl")
    assert (carrier.name, carrier.adapter, carrier.active) == ("DHL", "dhl", True)

    response = manager_client.post(
        reverse("shipping:service_create"),
        {
            "carrier": carrier.pk,
            "code": "express",
            "name": "Express",
            "delivery_mode": "home",
            "max_weight_g": "20000",
            "cutoff_time": "17:30",
            "delivery_weekdays": "6 1 2 3,4 5",
            "is_express": "on",
            "active": "on",
        },
    )
    service = CarrierService.objects.get(carrier=carrier, code="express")
    assert response.status_code == 302
    assert response["Location"] == reverse("shipping:service_grids", args=[service.pk])
    assert service.delivery_weekdays == "123456"
    assert service.cutoff_time == time(17, 30)
    assert (service.max_weight_g, service.is_express, service.delivery_mode) == (20000, True, "home")


def test_manager_edits_a_carrier(manager_client, service):
    url = reverse("shipping:carrier_edit", args=[service.carrier.pk])
    assert manager_client.get(url).status_code == 200
    response = manager_client.post(
        url, {"code": "colissimo", "name": "La Poste Colissimo", "adapter": "colissimo"}
    )
    assert response.status_code == 302
    service.carrier.refresh_from_db()
    assert (service.carrier.name, service.carrier.active) == ("La Poste Colissimo", False)


def _service_data(service, **changes):
    data = {
        "carrier": service.carrier_id,
        "code": service.code,
        "name": service.name,
        "delivery_mode": service.delivery_mode,
        "max_weight_g": service.max_weight_g,
        "cutoff_time": service.cutoff_time.strftime("%H:%M"),
        "delivery_weekdays": service.delivery_weekdays,
        "active": "on",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("delivery_weekdays", "12389", "Delivery days are digits from 1 (Monday) to 7 (Sunday)"),
        ("delivery_weekdays", "lun-ven", "Delivery days are digits from 1 (Monday) to 7 (Sunday)"),
        ("delivery_weekdays", "", "This field is required."),
        ("cutoff_time", "4pm", "Enter the cut-off as a time, e.g. 16:00."),
        ("cutoff_time", "25:00", "Enter the cut-off as a time, e.g. 16:00."),
        ("max_weight_g", "0", "The maximum weight is above zero."),
    ],
)
def test_service_form_refuses_bad_values_and_changes_nothing(manager_client, service, field, value, message):
    url = reverse("shipping:service_edit", args=[service.pk])
    response = manager_client.post(url, _service_data(service, **{field: value, "name": "Changed"}))
    assert response.status_code == 400
    html = response.content.decode()
    assert "form-errors" in html
    assert message in html
    assert 'value="Changed"' in html  # what the manager typed is kept
    fresh = CarrierService.objects.get(pk=service.pk)
    assert (fresh.name, fresh.delivery_weekdays, fresh.cutoff_time) == (service.name, "123456", time(16, 0))


def test_service_code_is_unique_per_carrier(manager_client, service):
    before = CarrierService.objects.count()
    data = _service_data(service)
    response = manager_client.post(reverse("shipping:service_create"), data)
    assert response.status_code == 400
    assert CarrierService.objects.count() == before


# The grids page


def test_grids_page_shows_the_price_grid_as_a_table(manager_client, service):
    response = manager_client.get(reverse("shipping:service_grids", args=[service.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "≤ 300 km" in html and "≤ 700 km" in html
    assert "≤ 500 g" in html and "≤ 2000 g" in html
    for price in ("€4.00", "€4.50", "€5.00", "€5.50"):
        assert f'<td class="num">{price}</td>' in html
    assert response.context["grids"].distances == [300, 700]
    assert response.context["grids"].transits == [(300, 1), (700, 2)]
    # the whole grid pre-filled in the text editor
    assert "g/km;300;700\n500;4.00;4.50\n2000;5.00;5.50" in html


def test_grids_page_of_an_empty_service_opens_the_text_editor(manager_client):
    service = CarrierServiceFactory()
    html = manager_client.get(reverse("shipping:service_grids", args=[service.pk])).content.decode()
    assert "<details open>" in html
    assert 'id="rate-form"' not in html  # a row needs distance bands first


def _post(client, service, **data):
    return client.post(reverse("shipping:service_grids", args=[service.pk]), data)


def test_add_a_weight_band(manager_client, service):
    response = _post(
        manager_client, service, action="rate_row", max_weight_g="1000", price_300="4.50", price_700="4.75"
    )
    assert response.status_code == 302
    assert rates(service) == sorted(
        [*ORIGINAL_RATES, (1000, 300, Decimal("4.50")), (1000, 700, Decimal("4.75"))]
    )


def test_prices_take_french_decimals_in_french(manager_client, service):
    manager_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = _post(
        manager_client, service, action="rate_row", max_weight_g="1000", price_300="4,50", price_700="4.75"
    )
    assert response.status_code == 302
    assert rates(service)[2:4] == [(1000, 300, Decimal("4.50")), (1000, 700, Decimal("4.75"))]


def test_edit_a_weight_band_and_change_its_limit(manager_client, service):
    url = reverse("shipping:service_grids", args=[service.pk])
    html = manager_client.get(url, {"weight": 2000}).content.decode()
    assert 'name="replace" value="2000"' in html
    assert 'name="price_700" value="5.50"' in html
    response = _post(
        manager_client,
        service,
        action="rate_row",
        replace="2000",
        max_weight_g="3000",
        price_300="6",
        price_700="7",
    )
    assert response.status_code == 302
    assert rates(service) == [*ORIGINAL_RATES[:2], (3000, 300, Decimal("6.00")), (3000, 700, Decimal("7.00"))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_weight_g": "500", "price_300": "1", "price_700": "2"}, "A band up to 500 g exists already"),
        (
            {"replace": "2000", "max_weight_g": "500", "price_300": "1", "price_700": "2"},
            "A band up to 500 g exists",
        ),
        ({"max_weight_g": "1000", "price_300": "-1", "price_700": "2"}, "greater than or equal to 0"),
        ({"max_weight_g": "1000", "price_300": "1"}, "This field is required."),
        ({"max_weight_g": "0", "price_300": "1", "price_700": "2"}, "greater than or equal to 1"),
        ({"max_weight_g": "1000", "price_300": "1.005", "price_700": "2"}, "no more than 2 decimal places"),
        ({"replace": "999", "max_weight_g": "999", "price_300": "1", "price_700": "2"}, "no longer exists"),
    ],
)
def test_weight_band_refusals_write_nothing(manager_client, service, data, message):
    response = _post(manager_client, service, action="rate_row", **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert rates(service) == ORIGINAL_RATES


def test_replace_the_whole_grid_from_text(manager_client, service):
    text = (
        "g\\km\t300\t700\t1200\n250\t3,90\t4,10\t4,30\t\n500\t4.00\t4.20\t4.40\n"  # pasted from a spreadsheet
    )
    response = _post(manager_client, service, action="rate_text", text=text)
    assert response.status_code == 302
    assert rates(service) == [
        (250, 300, Decimal("3.90")),
        (250, 700, Decimal("4.10")),
        (250, 1200, Decimal("4.30")),
        (500, 300, Decimal("4.00")),
        (500, 700, Decimal("4.20")),
        (500, 1200, Decimal("4.40")),
    ]
    assert transits(service) == [(300, 1), (700, 2)]  # the transit grid is another grid


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("g/km;300;300\n500;1;2", "The band up to 300 km appears twice."),
        ("g/km;300;700\n500;1;2\n500;3;4", "The band up to 500 g appears twice."),
        ("g/km;300;700\n500;1;-2", "The price up to 500 g and 700 km is negative (-2)."),
        ("g/km;300;700\n500;1", "The band up to 500 g has 1 prices for 2 distance bands."),
        ("g/km;300;700\n500;1;2;3", "The band up to 500 g has 3 prices for 2 distance bands."),
        ("g/km;300;far\n500;1;2", "Line 1: “far” is not a distance in km."),
        ("g/km;300;700\nheavy;1;2", "Line 2: “heavy” is not a weight in grams."),
        ("g/km;300;700\n500;1;cheap", "Line 2: “cheap” is not a price."),
        ("g/km;300;700\n500;;2", "Line 2: “(empty)” is not a price."),
        ("g/km;0;700\n500;1;2", "A band limit is a whole number above zero (km); “0” is not."),
        ("g/km;300;700\n500;1;2.001", "has more than two decimals"),
        ("g/km;300;700\n500;1;1000000", "is too high"),
        ("", "This field is required."),
    ],
)
def test_text_grid_refusals_write_nothing(manager_client, service, text, message):
    response = _post(manager_client, service, action="rate_text", text=text)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "<details open>" in html
    assert rates(service) == ORIGINAL_RATES


def test_text_grid_lists_every_problem(manager_client, service):
    response = _post(manager_client, service, action="rate_text", text="g/km;300;300\n500;1;-2\n500;1;2")
    assert response.status_code == 400
    html = response.content.decode()
    assert "The band up to 300 km appears twice." in html
    assert "The band up to 500 g appears twice." in html
    assert "The price up to 500 g and 300 km is negative (-2)." in html
    assert rates(service) == ORIGINAL_RATES


def test_delete_bands_after_confirming(manager_client, service):
    url = reverse("shipping:service_grids", args=[service.pk])
    html = manager_client.get(url, {"delete": "distance", "value": 700}).content.decode()
    assert "The band up to 700 km will be deleted from the price grid, with its 2 prices" in html

    assert _post(manager_client, service, action="delete", band="distance", value="700").status_code == 302
    assert rates(service) == [ORIGINAL_RATES[0], ORIGINAL_RATES[2]]
    assert _post(manager_client, service, action="delete", band="weight", value="500").status_code == 302
    assert rates(service) == [ORIGINAL_RATES[2]]
    assert _post(manager_client, service, action="delete", band="transit", value="300").status_code == 302
    assert transits(service) == [(700, 2)]


def test_deleting_a_band_that_is_gone_is_refused(manager_client, service):
    response = _post(manager_client, service, action="delete", band="weight", value="777")
    assert response.status_code == 400
    assert "The band up to 777 g no longer exists." in response.content.decode()
    assert rates(service) == ORIGINAL_RATES


def test_unknown_action_is_a_bad_request(manager_client, service):
    assert _post(manager_client, service, action="drop_table").status_code == 400
    assert rates(service) == ORIGINAL_RATES


def test_transit_bands_add_replace_and_refusals(manager_client, service):
    assert (
        _post(
            manager_client, service, action="transit_row", max_distance_km="1200", transit_days="3"
        ).status_code
        == 302
    )
    assert transits(service) == [(300, 1), (700, 2), (1200, 3)]
    response = _post(
        manager_client, service, action="transit_row", replace="700", max_distance_km="800", transit_days="2"
    )
    assert response.status_code == 302
    assert transits(service) == [(300, 1), (800, 2), (1200, 3)]

    for data, message in [
        ({"max_distance_km": "300", "transit_days": "4"}, "A band up to 300 km exists already"),
        (
            {"replace": "300", "max_distance_km": "800", "transit_days": "4"},
            "A band up to 800 km exists already",
        ),
        ({"max_distance_km": "2000", "transit_days": "-1"}, "greater than or equal to 0"),
        ({"max_distance_km": "2000", "transit_days": "99"}, "less than or equal to 60"),
    ]:
        response = _post(manager_client, service, action="transit_row", **data)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert transits(service) == [(300, 1), (800, 2), (1200, 3)]


def test_grids_page_warns_when_grids_cover_different_distances(manager_client, service):
    ServiceTransit.objects.filter(service=service, max_distance_km=700).delete()
    html = manager_client.get(reverse("shipping:service_grids", args=[service.pk])).content.decode()
    assert "Prices go up to 700 km but transit times up to 300 km" in html
