"""Tracking adapters against the documented answers: La Poste Suivi v2 (Colissimo, Chronopost), DHL
unified tracking; and the rate limiter that keeps La Poste's quota."""

from datetime import UTC, datetime

import httpx
import pytest
import respx

from shipping.carriers import CarrierQuotaExceeded, PermanentCarrierError, RetryableCarrierError, get_adapter
from shipping.carriers.dhl import TRACK_URL
from shipping.carriers.laposte import SUIVI_URL
from shipping.carriers.ratelimit import RateLimiter, RateLimitTimeout
from shipping.models import ShipmentStatus


def suivi_shipment(number: str, events: list[tuple[str, str, str]], *, final: bool) -> dict:
    return {
        "lang": "fr_FR",
        "scope": "open",
        "returnCode": 200,
        "shipment": {
            "idShip": number,
            "holder": 4,
            "product": "colissimo",
            "isFinal": final,
            "entryDate": "2026-11-23T14:43:00+01:00",
            "estimDate": "2026-11-25T18:00:00+01:00",
            "timeline": [
                {"id": 1, "shortLabel": "Votre colis est entre nos mains.", "status": True, "type": 1}
            ],
            "event": [{"code": c, "label": label, "date": d} for c, label, d in events],
            "contextData": {"originCountry": "FR", "arrivalCountry": "FR"},
            "url": f"https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
        },
    }


DELIVERED = suivi_shipment(
    "6A12345678901",
    [
        ("DI1", "Votre colis est livré.", "2026-11-25T09:38:00+01:00"),
        ("MD2", "Votre colis est en cours de livraison.", "2026-11-25T09:01:00+01:00"),
        ("ET1", "Votre colis est en cours d'acheminement.", "2026-11-24T16:25:00+01:00"),
        ("PC1", "Votre colis a été déposé dans un point postal.", "2026-11-23T14:43:00+01:00"),
        ("DR1", "Votre Colissimo va bientôt nous être confié !", "2026-11-23T14:41:00+01:00"),
    ],
    final=True,
)
NOT_FOUND = {
    "returnCode": 404,
    "returnMessage": "Le numéro de suivi n'a pas été trouvé.",
    "lang": "fr_FR",
    "scope": "open",
    "idShip": "6A00000000000",
}


@pytest.fixture
def colissimo():
    return get_adapter("colissimo", config={"okapi_key": "okapi-key"})


@respx.mock
def test_one_parcel_events_oldest_first_with_our_statuses(colissimo):
    route = respx.get(SUIVI_URL + "6A12345678901").mock(return_value=httpx.Response(200, json=DELIVERED))
    (update,) = colissimo.track(["6A12345678901"])
    assert [e.code for e in update.events] == ["DR1", "PC1", "ET1", "MD2", "DI1"]
    assert [e.status for e in update.events] == [
        ShipmentStatus.LABELLED,
        ShipmentStatus.HANDED_OVER,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ]
    assert update.events[-1].at == datetime(2026, 11, 25, 8, 38, tzinfo=UTC)
    assert update.final and update.status == ShipmentStatus.DELIVERED
    request = route.calls.last.request
    assert request.headers["X-Okapi-Key"] == "okapi-key"
    assert request.url.params["lang"] == "fr_FR"


@respx.mock
def test_a_batch_is_one_call_and_an_unknown_number_does_not_spoil_it(colissimo):
    in_transit = suivi_shipment(
        "6A22222222222", [("AG1", "Disponible en point de retrait", "2026-11-24T10:00:00+01:00")], final=False
    )
    route = respx.get(SUIVI_URL + "6A12345678901,6A00000000000,6A22222222222").mock(
        return_value=httpx.Response(207, json=[DELIVERED, NOT_FOUND, in_transit])
    )
    first, unknown, third = colissimo.track(
        ["6A12345678901", "6A00000000000", "6A22222222222", "6A12345678901"]
    )
    assert route.call_count == 1
    assert first.final and first.error == ""
    assert unknown.error == "Le numéro de suivi n'a pas été trouvé." and unknown.events == []
    assert third.status == ShipmentStatus.AVAILABLE_FOR_PICKUP and not third.final


@respx.mock
def test_batches_of_ten_numbers(colissimo):
    respx.get(url__startswith=SUIVI_URL).mock(return_value=httpx.Response(207, json=[]))
    numbers = [f"6A{n:011d}" for n in range(23)]
    updates = colissimo.track(numbers)
    assert len(respx.calls) == 3
    assert [len(call.request.url.path.rsplit("/", 1)[1].split(",")) for call in respx.calls] == [10, 10, 3]
    assert len(updates) == 23 and all(u.error for u in updates)


@respx.mock
def test_single_unknown_number_answers_404(colissimo):
    respx.get(SUIVI_URL + "6A00000000000").mock(return_value=httpx.Response(404, json=NOT_FOUND))
    (update,) = colissimo.track(["6A00000000000"])
    assert update.error.startswith("Le numéro")


@respx.mock
def test_quota_answer_is_retryable(colissimo):
    respx.get(SUIVI_URL + "6A12345678901").mock(
        return_value=httpx.Response(429, json={"code": "TOO_MANY_REQUESTS", "message": "Too many requests"})
    )
    with pytest.raises(CarrierQuotaExceeded) as caught:
        colissimo.track(["6A12345678901"])
    assert caught.value.message == "Too many requests"
    assert len(respx.calls) == 4  # asked again in place three times, then left to the task's retry


@respx.mock
def test_a_quota_answer_that_slips_through_is_asked_again_in_place(colissimo):
    """A 429 between two calls that the shared limiter let through is asked again after a short wait,
    not raised: the task would retry after a backoff of seconds and spend the batch's other calls again."""
    too_many = httpx.Response(429, json={"code": "TOO_MANY_REQUESTS", "message": "Too many requests"})
    respx.get(SUIVI_URL + "6A12345678901").mock(side_effect=[too_many, httpx.Response(200, json=DELIVERED)])
    (update,) = colissimo.track(["6A12345678901"])
    assert update.error == "" and update.events[-1].code == "DI1"
    assert len(respx.calls) == 2


@respx.mock
def test_a_refused_key_is_permanent(colissimo):
    respx.get(SUIVI_URL + "6A12345678901").mock(
        return_value=httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "Invalid API key"})
    )
    with pytest.raises(PermanentCarrierError, match="Invalid API key"):
        colissimo.track(["6A12345678901"])


@respx.mock
def test_chronopost_tracks_through_la_poste():
    respx.get(SUIVI_URL + "XY123456789FR").mock(
        return_value=httpx.Response(
            200,
            json=suivi_shipment(
                "XY123456789FR", [("PC1", "Pris en charge", "2026-11-24T18:00:00+01:00")], final=False
            ),
        )
    )
    (update,) = get_adapter("chronopost", config={"okapi_key": "k"}).track(["XY123456789FR"])
    assert update.status == ShipmentStatus.HANDED_OVER


def test_rate_limiter_waits_for_the_next_second():
    now = [1000.2]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    limiter = RateLimiter("test-quota", per_second=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert slept == []
    limiter.acquire()  # the fourth call of second 1000 waits for second 1001
    assert slept == [0.8]
    blocked = RateLimiter("test-quota-2", per_second=0, clock=lambda: now[0], sleep=sleep)
    with pytest.raises(RateLimitTimeout):
        blocked.acquire(max_wait=2)


# DHL


DHL_ANSWER = {
    "shipments": [
        {
            "id": "00340434292135100186",
            "service": "parcel-de",
            "status": {
                "timestamp": "2026-11-25T10:22:00+01:00",
                "location": {"address": {"addressLocality": "Lyon"}},
                "statusCode": "delivered",
                "status": "DELIVERED",
                "description": "The shipment has been delivered.",
            },
            "estimatedTimeOfDelivery": "2026-11-25T12:00:00+01:00",
            "events": [
                {
                    "timestamp": "2026-11-25T10:22:00+01:00",
                    "location": {"address": {"addressLocality": "Lyon"}},
                    "statusCode": "delivered",
                    "status": "DELIVERED",
                    "description": "The shipment has been delivered.",
                },
                {
                    "timestamp": "2026-11-25T07:10:00+01:00",
                    "location": {"address": {"addressLocality": "Lyon"}},
                    "statusCode": "transit",
                    "status": "OUT FOR DELIVERY",
                    "description": "The shipment is out for delivery.",
                },
                {
                    "timestamp": "2026-11-24T20:00:00+01:00",
                    "location": {"address": {"addressLocality": "Paris"}},
                    "statusCode": "transit",
                    "status": "PROCESSED",
                    "description": "Processed at hub.",
                },
                {
                    "timestamp": "2026-11-24T08:00:00+01:00",
                    "statusCode": "pre-transit",
                    "description": "The shipment data has been transmitted.",
                },
            ],
        }
    ]
}


@respx.mock
def test_dhl_tracking_maps_status_codes():
    route = respx.get(TRACK_URL).mock(return_value=httpx.Response(200, json=DHL_ANSWER))
    (update,) = get_adapter("dhl", config={"api_key": "dhl-key"}).track(["00340434292135100186"])
    assert [e.status for e in update.events] == [
        ShipmentStatus.LABELLED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ]
    assert update.final and update.events[-1].place == "Lyon"
    assert update.estimated_delivery == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    request = route.calls.last.request
    assert request.headers["DHL-API-Key"] == "dhl-key"
    assert request.url.params["trackingNumber"] == "00340434292135100186"


@respx.mock
def test_dhl_unknown_number_and_quota():
    adapter = get_adapter("dhl", config={"api_key": "dhl-key"})
    respx.get(TRACK_URL, params={"trackingNumber": "NOPE"}).mock(
        return_value=httpx.Response(
            404,
            json={
                "title": "No result found",
                "status": 404,
                "detail": "No shipment with given tracking number found.",
            },
        )
    )
    respx.get(TRACK_URL, params={"trackingNumber": "BUSY"}).mock(
        return_value=httpx.Response(
            429,
            json={"title": "Too many requests", "status": 429, "detail": "Rate limit exceeded"},
            headers={"Retry-After": "3600"},
        )
    )
    (unknown,) = adapter.track(["NOPE"])
    assert unknown.error == "No shipment with given tracking number found."
    with pytest.raises(CarrierQuotaExceeded) as caught:
        adapter.track(["BUSY"])
    assert caught.value.retry_after == 3600 and caught.value.message == "Rate limit exceeded"


@respx.mock
def test_dhl_network_error_is_retryable():
    respx.get(TRACK_URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(RetryableCarrierError):
        get_adapter("dhl", config={"api_key": "k"}).track(["X"])
