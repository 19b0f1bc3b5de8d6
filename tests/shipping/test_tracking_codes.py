"""Every carrier's tracking codes mapped to our normalised statuses (a table), and the sandbox playing each
carrier through that carrier's own table."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shipping.carriers import ADAPTERS
from shipping.carriers.sandbox import update_at
from shipping.models import ShipmentStatus as S

TABLE = [
    # La Poste's Suivi v2 (Colissimo, Chronopost)
    ("colissimo", "DR1", S.LABELLED),
    ("colissimo", "PC1", S.HANDED_OVER),
    ("colissimo", "ET2", S.IN_TRANSIT),
    ("colissimo", "DO3", S.EXCEPTION),
    ("colissimo", "MD2", S.OUT_FOR_DELIVERY),
    ("colissimo", "AG1", S.AVAILABLE_FOR_PICKUP),
    ("colissimo", "DI1", S.DELIVERED),
    ("colissimo", "DI2", S.RETURNED),
    ("chronopost", "PC2", S.HANDED_OVER),
    ("chronopost", "ND1", S.EXCEPTION),
    ("chronopost", "RE1", S.RETURNED),
    # FedEx scan event types
    ("fedex", "OC", S.LABELLED),
    ("fedex", "PU", S.HANDED_OVER),
    ("fedex", "AR", S.IN_TRANSIT),
    ("fedex", "CC", S.IN_TRANSIT),
    ("fedex", "CD", S.EXCEPTION),
    ("fedex", "OD", S.OUT_FOR_DELIVERY),
    ("fedex", "HL", S.AVAILABLE_FOR_PICKUP),
    ("fedex", "DE", S.EXCEPTION),
    ("fedex", "DL", S.DELIVERED),
    ("fedex", "RS", S.RETURNED),
    ("fedex", "DY", ""),
    # UPS activity types and status codes
    ("ups", "M", S.LABELLED),
    ("ups", "P", S.HANDED_OVER),
    ("ups", "I", S.IN_TRANSIT),
    ("ups", "021", S.OUT_FOR_DELIVERY),
    ("ups", "2Q", S.AVAILABLE_FOR_PICKUP),
    ("ups", "X", S.EXCEPTION),
    ("ups", "D", S.DELIVERED),
    ("ups", "RS", S.RETURNED),
    # DPD France traces
    ("dpd_fr", "PREPARED", S.LABELLED),
    ("dpd_fr", "PICKUP", S.HANDED_OVER),
    ("dpd_fr", "HUB", S.IN_TRANSIT),
    ("dpd_fr", "OUT_FOR_DELIVERY", S.OUT_FOR_DELIVERY),
    ("dpd_fr", "PICKUP_POINT", S.AVAILABLE_FOR_PICKUP),
    ("dpd_fr", "NOT_DELIVERED", S.EXCEPTION),
    ("dpd_fr", "PICKED_UP_BY_CONSIGNEE", S.DELIVERED),
    ("dpd_fr", "RETURN_TO_SENDER", S.RETURNED),
    ("dpd_fr", "PREDICT", ""),
    # GLS ShipIT statuses
    ("gls", "PREADVICE", S.LABELLED),
    ("gls", "INWAREHOUSE", S.IN_TRANSIT),
    ("gls", "INDELIVERY", S.OUT_FOR_DELIVERY),
    ("gls", "DELIVEREDPS", S.AVAILABLE_FOR_PICKUP),
    ("gls", "NOTDELIVERED", S.EXCEPTION),
    ("gls", "DELIVERED", S.DELIVERED),
    # DHL unified tracking (DHL, DHL Express)
    ("dhl", "pre-transit", S.LABELLED),
    ("dhl_express", "transit", S.IN_TRANSIT),
    ("dhl_express", "failure", S.EXCEPTION),
    ("dhl_express", "delivered", S.DELIVERED),
    ("dhl_express", "unknown", ""),
    # Mondial Relay (codes taken from the tracing wording)
    ("mondial_relay", "MR_TAKEN", S.HANDED_OVER),
    ("mondial_relay", "MR_OUT", S.OUT_FOR_DELIVERY),
    ("mondial_relay", "MR_AVAILABLE", S.AVAILABLE_FOR_PICKUP),
    ("mondial_relay", "MR_COLLECTED", S.DELIVERED),
    ("mondial_relay", "MR_ANOMALY", S.EXCEPTION),
    ("mondial_relay", "MR_RETURN", S.RETURNED),
]


@pytest.mark.parametrize(("adapter", "code", "status"), TABLE)
def test_carrier_code_maps_to_our_status(adapter, code, status):
    assert ADAPTERS[adapter].event_status.get(code, "") == status


PLAYED = ["colissimo", "chronopost", "fedex", "ups", "dpd_fr", "gls", "dhl_express", "mondial_relay"]


@pytest.mark.parametrize("adapter", PLAYED)
@pytest.mark.parametrize(
    ("mode", "failure_rate", "last"),
    [("home", 0.0, S.DELIVERED), ("relay", 0.0, S.DELIVERED), ("home", 1.0, S.RETURNED)],
)
def test_the_sandbox_plays_each_carrier_in_its_own_codes(adapter, mode, failure_rate, last):
    played = ADAPTERS[adapter]
    handed = timezone.now() - timedelta(days=30)
    update = update_at(
        "SB12345678901FR",
        handed_over_at=handed,
        mode=mode,
        now=timezone.now(),
        failure_rate=failure_rate,
        played=played,
    )
    assert update.final
    assert all(event.code in played.event_status for event in update.events)
    statuses = [event.status for event in update.events if event.status]
    # DHL's unified statuses have no "returned": its failure stays a problem (and the parcel's final).
    assert statuses[-1] == (S.EXCEPTION if adapter == "dhl_express" and last == S.RETURNED else last)
    if mode == "relay" and adapter not in ("dhl_express",):
        assert S.AVAILABLE_FOR_PICKUP in statuses
