"""The real platform adapters against recorded answers of their documented APIs (respx): SUPER PDP (a
plateforme agréée) and Chorus Pro through PISTE."""

import base64
import datetime as dt
import json

import httpx
import pytest
import respx

from invoicing.platforms.base import (
    CollectedAmount,
    NotSupported,
    OutgoingDocument,
    PermanentPlatformError,
    PlatformNotConfigured,
    RetryablePlatformError,
)
from invoicing.platforms.chorus import ChorusProAdapter
from invoicing.platforms.superpdp import SuperPdpAdapter

SUPERPDP = "https://api.superpdp.tech"
PISTE_OAUTH = "https://sandbox-oauth.piste.gouv.fr/api/oauth/token"
PISTE_API = "https://sandbox-api.piste.gouv.fr"


def _document(**kwargs):
    values = {
        "external_id": "oms-transmission-7",
        "number": "FA-2026-000007",
        "type_code": "380",
        "treatment": "B2B",
        "syntax": "facturx",
        "filename": "FA-2026-000007.pdf",
        "content": b"%PDF-1.7 factur-x",
        "seller_siren": "732829320",
        "buyer_siren": "552100554",
    }
    values.update(kwargs)
    return OutgoingDocument(**values)


@pytest.fixture
def superpdp():
    return SuperPdpAdapter(config={"client_id": "cid", "client_secret": "secret"})


def _token(router):
    return router.post(f"{SUPERPDP}/oauth2/token").mock(
        return_value=httpx.Response(
            200, json={"access_token": "tok-1", "token_type": "Bearer", "expires_in": 1800}
        )
    )


@respx.mock
def test_superpdp_sends_the_file_with_our_external_id_and_reads_the_first_events(superpdp):
    token = _token(respx)
    send = respx.post(f"{SUPERPDP}/v1.beta/invoices").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": 4242,
                "company_id": 1,
                "direction": "out",
                "events": [
                    {
                        "id": 90,
                        "invoice_id": 4242,
                        "status_code": "api:uploaded",
                        "status_text": "",
                        "created_at": "2026-12-01T10:00:00Z",
                    },
                    {
                        "id": 91,
                        "invoice_id": 4242,
                        "status_code": "fr:200",
                        "status_text": "Déposée",
                        "created_at": "2026-12-01T10:00:01Z",
                    },
                ],
            },
        )
    )
    result = superpdp.send_document(_document())

    assert result.platform_ref == "4242"
    assert [(u.code, u.event_id) for u in result.updates] == [("200", "91")]
    request = send.calls.last.request
    assert request.url.params["external_id"] == "oms-transmission-7"
    assert request.url.params["processing_rule"] == "B2B"
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["Content-Type"] == "application/pdf"
    assert request.content == b"%PDF-1.7 factur-x"
    assert b"grant_type=client_credentials" in token.calls.last.request.content


@respx.mock
def test_superpdp_polls_every_page_from_the_cursor_and_skips_its_own_steps(superpdp):
    _token(respx)
    pages = respx.get(f"{SUPERPDP}/v1.beta/invoice_events").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "id": 11,
                            "invoice_id": 4242,
                            "status_code": "ppf:validated-ack",
                            "status_text": "",
                            "created_at": "2026-12-01T10:00:00Z",
                        },
                        {
                            "id": 12,
                            "invoice_id": 4242,
                            "status_code": "fr:210",
                            "status_text": "Prix erroné",
                            "created_at": "2026-12-02T08:30:00Z",
                        },
                    ],
                    "has_after": True,
                },
            ),
            httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "id": 13,
                            "invoice_id": 4243,
                            "status_code": "fr:212",
                            "status_text": "Paiement reçu",
                            "created_at": "2026-12-03T08:30:00Z",
                        },
                    ],
                    "has_after": False,
                },
            ),
        ]
    )
    result = superpdp.poll(cursor="10", pending_refs=[])

    assert [(u.platform_ref, u.code, u.reason) for u in result.updates] == [
        ("4242", "210", "Prix erroné"),
        ("4243", "212", "Paiement reçu"),
    ]
    assert result.cursor == "13"
    assert [c.request.url.params["starting_after_id"] for c in pages.calls] == ["10", "12"]


@respx.mock
def test_superpdp_collected_status_carries_the_amounts_per_rate(superpdp):
    _token(respx)
    post = respx.post(f"{SUPERPDP}/v1.beta/invoice_events").mock(
        return_value=httpx.Response(200, json={"id": 77})
    )
    ref = superpdp.send_status(
        platform_ref="4242",
        code="212",
        amounts=[CollectedAmount(amount="120.00", vat_rate="20.0", paid_on=dt.date(2026, 12, 3))],
        external_id="oms-transmission-9",
    )
    assert ref == "77"
    assert json.loads(post.calls.last.request.content) == {
        "invoice_id": 4242,
        "status_code": "fr:212",
        "details": [
            {
                "reported_data": [
                    {
                        "amount": "120.00",
                        "currency_code": "EUR",
                        "type_code": "MEN",
                        "value_percent": "20.0",
                        "date": "2026-12-03",
                    },
                ]
            }
        ],
    }


@respx.mock
def test_superpdp_down_or_busy_is_retryable_and_a_refusal_is_permanent(superpdp):
    _token(respx)
    route = respx.post(f"{SUPERPDP}/v1.beta/invoices")
    route.mock(return_value=httpx.Response(503, text="maintenance"))
    with pytest.raises(RetryablePlatformError):
        superpdp.send_document(_document())
    route.mock(return_value=httpx.Response(429, headers={"Retry-After": "30"}, json={"message": "slow down"}))
    with pytest.raises(RetryablePlatformError) as busy:
        superpdp.send_document(_document())
    assert busy.value.retry_after == 30
    route.mock(
        return_value=httpx.Response(
            400, json={"message": "pre-check: receiver address does not exist in peppol directory"}
        )
    )
    with pytest.raises(PermanentPlatformError) as refused:
        superpdp.send_document(_document())
    assert "receiver address does not exist" in refused.value.message


def test_superpdp_has_no_webhooks_and_needs_its_credentials():
    with pytest.raises(NotSupported):
        SuperPdpAdapter(config={}).parse_webhook(headers={}, body=b"{}")
    with pytest.raises(PlatformNotConfigured):
        SuperPdpAdapter(config={}).send_document(_document())


@pytest.fixture
def chorus():
    return ChorusProAdapter(
        config={
            "sandbox": True,
            "client_id": "piste-app",
            "client_secret": "piste-secret",
            "login": "TECH_1@cpro.fr",
            "password": "p4ss",
        }
    )


def _piste_token(router):
    return router.post(PISTE_OAUTH).mock(
        return_value=httpx.Response(
            200, json={"access_token": "piste-tok", "token_type": "Bearer", "expires_in": 3600}
        )
    )


@respx.mock
def test_chorus_deposits_the_flux_with_the_technical_account(chorus):
    token = _piste_token(respx)
    deposit = respx.post(f"{PISTE_API}/cpro/factures/v1/deposer/flux").mock(
        return_value=httpx.Response(
            200,
            json={
                "codeRetour": 0,
                "libelle": "GCU_MSG_01_000",
                "numeroFluxDepot": "CPP0011117000000000425903",
                "dateDepot": "2026-12-01",
                "syntaxeFlux": "IN_DP_E2_CII_FACTURX",
            },
        )
    )
    result = chorus.send_document(_document(treatment="B2G", buyer_siret="55210055400013"))

    assert result.platform_ref == "CPP0011117000000000425903|IN_DP_E2_CII_FACTURX"
    request = deposit.calls.last.request
    assert request.headers["cpro-account"] == base64.b64encode(b"TECH_1@cpro.fr:p4ss").decode()
    assert request.headers["Authorization"] == "Bearer piste-tok"
    assert json.loads(request.content) == {
        "fichierFlux": base64.b64encode(b"%PDF-1.7 factur-x").decode(),
        "nomFichier": "FA-2026-000007.pdf",
        "syntaxeFlux": "IN_DP_E2_CII_FACTURX",
        "avecSignature": False,
    }
    assert b"scope=openid" in token.calls.last.request.content


@respx.mock
def test_chorus_business_error_in_a_200_is_permanent(chorus):
    _piste_token(respx)
    respx.post(f"{PISTE_API}/cpro/factures/v1/deposer/flux").mock(
        return_value=httpx.Response(200, json={"codeRetour": 20001, "libelle": "Le fichier est vide"})
    )
    with pytest.raises(PermanentPlatformError) as refused:
        chorus.send_document(_document(treatment="B2G", buyer_siret="55210055400013", syntax="ubl"))
    assert refused.value.message == "Le fichier est vide"


@respx.mock
def test_chorus_polls_each_deposit_for_integration_or_rejection(chorus):
    _piste_token(respx)
    respx.post(f"{PISTE_API}/cpro/transverses/v1/consulterCRDetaille").mock(
        side_effect=[
            httpx.Response(
                200, json={"codeRetour": 0, "etatCourantDepotFlux": "IN_INTEGRE", "listeErreurDP": []}
            ),
            httpx.Response(
                200,
                json={
                    "codeRetour": 0,
                    "etatCourantDepotFlux": "IN_REJETE",
                    "listeErreurDP": [{"libelleErreur": "SIRET destinataire inconnu"}],
                },
            ),
            httpx.Response(200, json={"codeRetour": 0, "etatCourantDepotFlux": "IN_EN_COURS_TRAITEMENT"}),
        ]
    )
    result = chorus.poll(
        cursor="", pending_refs=["CPP1|IN_DP_E2_CII_FACTURX", "CPP2|IN_DP_E2_CII_FACTURX", "CPP3|X"]
    )
    assert [(u.platform_ref, u.code, u.reason) for u in result.updates] == [
        ("CPP1|IN_DP_E2_CII_FACTURX", "200", ""),
        ("CPP2|IN_DP_E2_CII_FACTURX", "213", "SIRET destinataire inconnu"),
    ]


def test_chorus_refuses_a_public_buyer_without_siret(chorus):
    with pytest.raises(PermanentPlatformError):
        chorus.send_document(_document(treatment="B2G"))
