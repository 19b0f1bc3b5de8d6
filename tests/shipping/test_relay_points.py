"""The local relay-point directory: the refresh from carriers (Celery task), the nearest-first search,
the REST endpoint and the staff picker fragment."""

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import respx
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from oms.roles import STORE_STAFF
from shipping.carriers import RelayPoint as RelayPointData
from shipping.carriers.colissimo import PICKUP_URL
from shipping.carriers.sandbox import relay_network
from shipping.models import RelayPoint
from shipping.relay_services import relay_points_load_sandbox, relay_points_store, search_areas
from shipping.selectors import carrier_for_relay, relay_point_search
from shipping.tasks import relay_points_refresh, relay_points_refresh_all
from tests.api.conftest import Api

from .factories import CarrierFactory, CarrierServiceFactory


@pytest.fixture
def relay_carrier(db):
    carrier = CarrierFactory(code="mondial-relay", name="Mondial Relay", adapter="sandbox")
    CarrierServiceFactory(carrier=carrier, code="point-relais", delivery_mode="relay")
    return carrier


@pytest.fixture
def directory(relay_carrier):
    relay_points_load_sandbox(carrier=relay_carrier)
    return relay_carrier


def point(pid: str, **extra) -> RelayPointData:
    values = {
        "id": pid,
        "name": f"Relais {pid}",
        "line1": "1 rue A",
        "postcode": "69003",
        "city": "Lyon",
        "latitude": 45.76,
        "longitude": 4.85,
    }
    values.update(extra)
    return RelayPointData(**values)


def test_store_upserts_and_a_complete_listing_deactivates_the_rest(relay_carrier):
    first = relay_points_store(
        carrier=relay_carrier, points=[point("A"), point("B"), point("A")], complete=True
    )
    assert (first.created, first.updated, first.deactivated) == (2, 0, 0)
    second = relay_points_store(
        carrier=relay_carrier, points=[point("A", name="Relais A bis")], complete=True
    )
    assert (second.created, second.updated, second.unchanged, second.deactivated) == (0, 1, 0, 1)
    rows = {r.external_id: r for r in RelayPoint.objects.filter(carrier=relay_carrier)}
    assert rows["A"].name == "Relais A bis" and rows["A"].active
    assert not rows["B"].active  # kept for the orders that chose it
    assert rows["A"].latitude == Decimal("45.760000")


def test_a_partial_refresh_deactivates_only_stale_points(relay_carrier):
    relay_points_store(carrier=relay_carrier, points=[point("A"), point("B")], complete=True)
    RelayPoint.objects.filter(external_id="B").update(updated_at=timezone.now() - timedelta(days=30))
    result = relay_points_store(
        carrier=relay_carrier,
        points=[point("A")],
        complete=False,
        stale_before=timezone.now() - timedelta(days=14),
    )
    assert result.deactivated == 1 and result.unchanged == 1
    relay_points_store(carrier=relay_carrier, points=[], complete=False, stale_before=None)
    assert RelayPoint.objects.get(external_id="A").active


def test_refresh_task_loads_the_sandbox_network_and_is_idempotent(relay_carrier):
    result = relay_points_refresh.delay(relay_carrier.pk).get()
    assert result["created"] == len(relay_network())
    again = relay_points_refresh.delay(relay_carrier.pk).get()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, len(relay_network()))
    assert RelayPoint.objects.filter(carrier=relay_carrier, active=True).count() == len(relay_network())


def test_refresh_all_queues_carriers_with_relay_services(relay_carrier, django_capture_on_commit_callbacks):
    CarrierServiceFactory(carrier=CarrierFactory(code="home-only"), delivery_mode="home")
    CarrierServiceFactory(carrier=CarrierFactory(code="shop", adapter="store"), delivery_mode="relay")
    assert relay_points_refresh_all.delay().get() == [relay_carrier.pk]
    assert RelayPoint.objects.filter(carrier=relay_carrier).count() == len(relay_network())


@respx.mock
def test_refresh_by_area_search_skips_refused_areas_and_deactivates_nothing(db, settings):
    settings.COLISSIMO_CONTRACT_NUMBER, settings.COLISSIMO_PASSWORD = "123", "pw"
    carrier = CarrierFactory(code="colissimo", adapter="colissimo")
    CarrierServiceFactory(carrier=carrier, code="point-retrait", delivery_mode="relay")
    RelayPoint.objects.create(
        carrier=carrier, external_id="OLD", name="Old", line1="x", postcode="75001", city="Paris"
    )
    answers = iter(
        [httpx.Response(200, json={"errorCode": 104, "errorMessage": "Code postal absent"})]
        + [
            httpx.Response(
                200,
                json={
                    "errorCode": 0,
                    "listePointRetraitAcheminement": [
                        {
                            "identifiant": "060567",
                            "nom": "BUREAU DE POSTE",
                            "adresse1": "13 RUE BELLECOMBE",
                            "codePostal": "69100",
                            "localite": "VILLEURBANNE",
                            "coordGeolocalisationLatitude": "45.7695505",
                            "coordGeolocalisationLongitude": "4.86314559",
                            "typeDePoint": "BPR",
                        }
                    ],
                },
            )
        ]
        * 200
    )
    respx.post(PICKUP_URL).mock(side_effect=lambda request: next(answers))
    result = relay_points_refresh.delay(carrier.pk).get()
    assert len(respx.calls) == len(search_areas())
    assert result["created"] == 1 and result["failed_areas"] == [search_areas()[0].postcode]
    assert result["deactivated"] == 0 and RelayPoint.objects.get(external_id="OLD").active
    assert RelayPoint.objects.get(external_id="060567").kind == "BPR"


@respx.mock
def test_a_carrier_outage_raises_for_a_retry(db, settings):
    from celery.exceptions import Retry

    from shipping.carriers import RetryableCarrierError

    settings.CELERY_TASK_EAGER_PROPAGATES = True
    settings.COLISSIMO_CONTRACT_NUMBER, settings.COLISSIMO_PASSWORD = "123", "pw"
    carrier = CarrierFactory(code="colissimo", adapter="colissimo")
    respx.post(PICKUP_URL).mock(return_value=httpx.Response(503))
    with pytest.raises(Retry) as caught:
        relay_points_refresh.apply(args=[carrier.pk], throw=True).get()
    assert isinstance(caught.value.exc, RetryableCarrierError)
    assert RelayPoint.objects.count() == 0


def test_search_is_nearest_first_with_distance(directory):
    points = relay_point_search(postcode="69003", country="FR", limit=3)
    assert [p.city for p in points] == ["Lyon", "Lyon", "Lyon"]
    assert points[0].distance_km <= points[1].distance_km <= points[2].distance_km
    far = relay_point_search(postcode="20000", country="FR", limit=1)
    assert far[0].city == "Ajaccio"
    assert relay_point_search(postcode="69003", carrier="other", limit=3) == []
    assert len(relay_point_search(postcode="69003", carrier="mondial-relay", limit=3)) == 3
    assert len(relay_point_search(postcode="69003", carrier="sandbox", limit=3)) == 3  # by adapter


def test_search_widens_until_it_has_enough(directory, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        points = relay_point_search(postcode="29200", country="FR", limit=3)
    assert [p.city for p in points] == ["Brest", "Rennes", "Nantes"]
    assert relay_point_search(postcode="97400", country="FR", limit=3) == []  # nothing within reach


def test_inactive_points_and_carriers_are_not_offered(directory):
    RelayPoint.objects.filter(external_id="SBX-69002").update(active=False)
    assert "SBX-69002" not in [p.external_id for p in relay_point_search(postcode="69002", limit=5)]
    directory.active = False
    directory.save()
    assert relay_point_search(postcode="69002", limit=5) == []


def test_carrier_for_relay_accepts_code_or_adapter(relay_carrier):
    assert carrier_for_relay("mondial-relay") == relay_carrier
    assert carrier_for_relay("sandbox") == relay_carrier
    assert carrier_for_relay("nope") is None


# The REST endpoint


@pytest.fixture
def api(directory):
    from tests.api.factories import ChannelFactory, api_key

    return Api(api_key(ChannelFactory(code="web"), "orders"))


def test_api_lists_nearest_points(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api.get("/relay-points/", {"postcode": "69003", "limit": 2})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 2
    first = results[0]
    assert set(first) == {
        "carrier",
        "id",
        "name",
        "line1",
        "line2",
        "postcode",
        "city",
        "country",
        "latitude",
        "longitude",
        "distance_km",
        "opening_hours",
    }
    assert first["carrier"] == "mondial-relay" and first["id"].startswith("SBX-69")
    assert isinstance(first["latitude"], str) and isinstance(first["distance_km"], str)
    assert first["opening_hours"]["1"][0] == [
        first["opening_hours"]["1"][0][0],
        first["opening_hours"]["1"][0][1],
    ]


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "postcode"),
        ({"postcode": "6900"}, "postcode"),
        ({"postcode": "69003", "country": "France"}, "country"),
        ({"postcode": "69003", "limit": 0}, "limit"),
        ({"postcode": "69003", "limit": 500}, "limit"),
    ],
)
def test_api_validation_errors(api, params, field):
    response = api.get("/relay-points/", params)
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error" and field in body["details"]


def test_api_unknown_carrier_and_no_key(api):
    response = api.get("/relay-points/", {"postcode": "69003", "carrier": "pigeon"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_carrier"
    anonymous = api.as_key(None).get("/relay-points/", {"postcode": "69003"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"


def test_api_other_country_is_empty_not_an_error(api):
    response = api.get("/relay-points/", {"postcode": "1000", "country": "BE"})
    assert response.status_code == 200 and response.json() == {"results": []}


# The staff picker


@pytest.fixture
def staff_client(client, role_users):
    client.force_login(role_users[STORE_STAFF])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_picker_lists_points_and_choosing_fills_the_inputs(staff_client, directory):
    url = reverse("shipping:relay_point_search")
    html = staff_client.get(
        url, {"relay_search": "69003", "prefix": "relay"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert html.count('class="relay-option"') == 8
    assert "Supérette Part-Dieu" in html
    chosen = RelayPoint.objects.get(external_id="SBX-69003")
    html = staff_client.get(url, {"choose": chosen.pk, "prefix": "relay"}).content.decode()
    assert 'name="relay_id" value="SBX-69003"' in html
    assert 'name="relay_carrier" value="mondial-relay"' in html
    assert 'name="relay_postcode" value="69003"' in html
    assert "08:30–21:00" in html and "Closed" not in html.split("Sunday")[0]


def test_picker_says_what_is_wrong(staff_client, directory):
    url = reverse("shipping:relay_point_search")
    assert "five digits" in staff_client.get(url, {"postcode": "690"}).content.decode()
    assert "No relay point near" in staff_client.get(url, {"postcode": "97400"}).content.decode()
    assert staff_client.get(url, {"choose": "abc"}).status_code == 404
    bad_prefix = staff_client.get(url, {"postcode": "69003", "prefix": '"><script>'}).content.decode()
    assert "<script>" not in bad_prefix and "#relay-chosen" in bad_prefix


def test_picker_include_renders(directory, rf):
    from django.template.loader import render_to_string

    html = render_to_string("shipping/_relay_picker.html", {"prefix": "pickup", "postcode": "69003"})
    assert 'id="pickup-search"' in html and 'name="pickup_id" value=""' in html
    assert reverse("shipping:relay_point_search") in html
