"""La Poste's tracking API "Suivi v2", which tracks Colissimo, Chronopost and La Poste letters alike.

``GET https://api.laposte.fr/suivi/v2/idships/{id}[,{id}...]?lang=fr_FR`` with ``X-Okapi-Key``. One id
answers an object ``{returnCode, shipment: {idShip, isFinal, event: [...newest first], ...}}``; several ids
answer a list of those (each with its own ``returnCode``; 404 / 400 for an unknown or invalid number, with
``returnMessage``). The quota is 100 calls a second, shared by every worker through ``RateLimiter``."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.dateparse import parse_datetime

from ..models import ShipmentStatus
from .base import (
    TRACKING,
    CarrierEvent,
    CarrierQuotaExceeded,
    PermanentCarrierError,
    TrackingUpdate,
    batched,
)
from .ratelimit import RateLimiter, RateLimitTimeout

SUIVI_URL = "https://api.laposte.fr/suivi/v2/idships/"
QUOTA_PER_SECOND = 100
QUOTA_RETRIES_IN_PLACE = 3  # a 429 asked again in place this many times before the task retries

# La Poste's event codes → our shipment status ("" = informative, the status does not move).
EVENT_STATUS = {
    "DR1": ShipmentStatus.LABELLED,  # declared: the sender printed the label
    "PC1": ShipmentStatus.HANDED_OVER,  # taken in charge
    "PC2": ShipmentStatus.HANDED_OVER,  # taken in charge in the country of origin
    "ET1": ShipmentStatus.IN_TRANSIT,
    "ET2": ShipmentStatus.IN_TRANSIT,
    "ET3": ShipmentStatus.IN_TRANSIT,
    "ET4": ShipmentStatus.IN_TRANSIT,
    "EP1": ShipmentStatus.IN_TRANSIT,  # awaiting presentation
    "DO1": ShipmentStatus.IN_TRANSIT,  # customs
    "DO2": ShipmentStatus.IN_TRANSIT,
    "DO3": ShipmentStatus.EXCEPTION,  # held at customs
    "PB1": ShipmentStatus.EXCEPTION,  # problem
    "PB2": ShipmentStatus.IN_TRANSIT,  # problem solved
    "MD2": ShipmentStatus.OUT_FOR_DELIVERY,
    "ND1": ShipmentStatus.EXCEPTION,  # undeliverable
    "AG1": ShipmentStatus.AVAILABLE_FOR_PICKUP,  # awaiting pickup at the counter or relay
    "RE1": ShipmentStatus.RETURNED,  # returned to sender
    "DI1": ShipmentStatus.DELIVERED,
    "DI2": ShipmentStatus.RETURNED,  # delivered back to the sender
}


def _okapi_message(response) -> str:
    body = response.json()
    if isinstance(body, dict):
        return str(body.get("returnMessage") or body.get("message") or body.get("code") or "")
    return ""


class LaPosteTrackingMixin:
    """``track`` through Suivi v2, for an adapter whose config has ``okapi_key``."""

    tracking_batch_size = 10  # ids per call (La Poste documents several ids per call; 10 is conservative)
    tracking_url_template = "https://www.laposte.fr/outils/suivre-vos-envois?code={number}"

    def _rate_limiter(self) -> RateLimiter:
        return RateLimiter("laposte-suivi", per_second=QUOTA_PER_SECOND)

    def track(self, tracking_numbers: Iterable[str]) -> list[TrackingUpdate]:
        if TRACKING not in self.supports:
            raise self._unsupported(TRACKING)
        (key,) = self.require("okapi_key")
        updates = []
        limiter = self._rate_limiter()
        for batch in batched(tracking_numbers, self.tracking_batch_size):
            response = self._suivi_call(limiter, key, batch)
            try:
                body = response.json()
            except ValueError as exc:
                raise PermanentCarrierError(
                    "La Poste answered something that is not JSON.",
                    carrier=self.code,
                    code="bad_answer",
                    status=response.status_code,
                ) from exc
            answers = body if isinstance(body, list) else [body]
            by_number = {}
            for answer in answers:
                number = str((answer.get("shipment") or {}).get("idShip") or answer.get("idShip") or "")
                by_number[number] = answer
            for number in batch:
                answer = by_number.get(number)
                if answer is None and len(batch) == 1 and len(answers) == 1:
                    answer = answers[0]  # an error for a single id may not repeat it
                updates.append(self._update(number, answer))
        return updates

    def _suivi_call(self, limiter: RateLimiter, key: str, batch: list[str]):
        """One call within the shared quota. A 429 that slips through anyway (windows counted a little
        apart from La Poste's) is asked again in place once the limiter lets it, a few times: failing the
        whole task would retry it after a backoff of seconds and spend its other calls again."""
        attempts = 0
        while True:
            try:
                limiter.acquire(max_wait=5)
            except RateLimitTimeout as exc:
                raise CarrierQuotaExceeded(
                    str(exc), carrier=self.code, code="quota_exceeded", retry_after=1
                ) from exc
            try:
                return self.request(
                    "GET",
                    (self.config.get("suivi_url") or SUIVI_URL) + ",".join(batch),
                    params={"lang": "fr_FR"},
                    headers={"X-Okapi-Key": key, "Accept": "application/json"},
                    ok=(200, 207, 400, 404),
                    error_message=_okapi_message,
                )
            except CarrierQuotaExceeded as exc:
                attempts += 1
                if attempts > QUOTA_RETRIES_IN_PLACE or (exc.retry_after or 0) > 2:
                    raise
                limiter.sleep(exc.retry_after or 0.05)

    def _update(self, number: str, answer: dict | None) -> TrackingUpdate:
        if answer is None:
            return TrackingUpdate(tracking_number=number, error="La Poste did not answer for this number.")
        if int(answer.get("returnCode") or 0) not in (200, 207) or "shipment" not in answer:
            return TrackingUpdate(
                tracking_number=number,
                error=str(answer.get("returnMessage") or f"La Poste code {answer.get('returnCode')}"),
            )
        shipment = answer["shipment"]
        events = []
        for item in shipment.get("event") or []:
            at = parse_datetime(str(item.get("date") or ""))
            if at is None:
                continue
            code = str(item.get("code") or "")
            events.append(
                CarrierEvent(
                    code=code,
                    status=EVENT_STATUS.get(code, ""),
                    label=str(item.get("label") or ""),
                    at=at,
                    place=str(item.get("country") or ""),
                )
            )
        events.sort(key=lambda e: e.at)
        estimated = (
            parse_datetime(str(shipment.get("estimDate") or "")) if shipment.get("estimDate") else None
        )
        return TrackingUpdate(
            tracking_number=number,
            events=events,
            final=bool(shipment.get("isFinal")),
            estimated_delivery=estimated,
        )
