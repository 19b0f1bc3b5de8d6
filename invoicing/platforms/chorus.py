"""Chorus Pro, the public buyers' portal (B2G), through its API behind the PISTE gateway:

- OAuth 2 client credentials at PISTE: ``POST https://oauth.piste.gouv.fr/api/oauth/token``
  (``grant_type=client_credentials``, ``client_id``, ``client_secret``, ``scope=openid``); sandbox
  ``sandbox-oauth.piste.gouv.fr`` and ``sandbox-api.piste.gouv.fr``.
- Every call also carries the Chorus Pro technical account: header ``cpro-account: base64(login:password)``.
- Deposit: ``POST /cpro/factures/v1/deposer/flux`` ``{fichierFlux (base64), nomFichier, syntaxeFlux,
  avecSignature: false}`` → ``{codeRetour, libelle, numeroFluxDepot, dateDepot}``; syntaxes
  ``IN_DP_E2_CII_FACTURX`` (Factur-X) and ``IN_DP_E1_UBL_INVOICE`` (UBL), overridable in the settings.
- Chorus Pro answers business errors with HTTP 200 and ``codeRetour`` ≠ 0: checked on every answer.
- Status of a deposit: ``POST /cpro/transverses/v1/consulterCRDetaille`` ``{numeroFluxDepot, syntaxeFlux}``
  → ``etatCourantDepotFlux``: ``IN_INTEGRE`` (deposited, 200), ``IN_REJETE`` / ``IN_INCIDENTE`` (rejected,
  213, with ``listeErreurDP[].libelleErreur``); polled for each deposit not settled yet (no webhooks).
"""

from __future__ import annotations

import base64
import time

from django.utils import timezone

from .base import (
    OutgoingDocument,
    PermanentPlatformError,
    PlatformAdapter,
    PollResult,
    SendResult,
    StatusUpdate,
)

OAUTH_URL = "https://oauth.piste.gouv.fr/api/oauth/token"
API_URL = "https://api.piste.gouv.fr"
SANDBOX_OAUTH_URL = "https://sandbox-oauth.piste.gouv.fr/api/oauth/token"
SANDBOX_API_URL = "https://sandbox-api.piste.gouv.fr"
SYNTAXES = {"facturx": "IN_DP_E2_CII_FACTURX", "ubl": "IN_DP_E1_UBL_INVOICE"}
INTEGRATED = {"IN_INTEGRE", "IN_INTEGRE_PARTIEL"}
REJECTED = {"IN_REJETE", "IN_INCIDENTE"}


class ChorusProAdapter(PlatformAdapter):
    code = "chorus"
    name = "Chorus Pro"

    _token: tuple[str, float] | None = None

    @property
    def urls(self) -> tuple[str, str]:
        if self.config.get("sandbox"):
            return SANDBOX_OAUTH_URL, SANDBOX_API_URL
        return self.config.get("oauth_url") or OAUTH_URL, (self.config.get("api_url") or API_URL).rstrip("/")

    def _access_token(self) -> str:
        if self._token and self._token[1] > time.monotonic() + 30:
            return self._token[0]
        client_id, client_secret = self.require("client_id", "client_secret")
        response = self.request(
            "POST",
            self.urls[0],
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": "openid",
            },
        )
        data = response.json()
        self._token = (data["access_token"], time.monotonic() + float(data.get("expires_in", 3600)))
        return self._token[0]

    def _call(self, path: str, body: dict) -> dict:
        login, password = self.require("login", "password")
        account = base64.b64encode(f"{login}:{password}".encode()).decode()
        response = self.request(
            "POST",
            f"{self.urls[1]}{path}",
            json=body,
            headers={
                "Authorization": f"Bearer {self._access_token()}",
                "cpro-account": account,
                "Content-Type": "application/json;charset=utf-8",
                "Accept": "application/json;charset=utf-8",
            },
            error_message=lambda r: r.json().get("libelle", ""),
        )
        data = response.json()
        if str(data.get("codeRetour", "0")) not in ("0", ""):
            raise PermanentPlatformError(
                data.get("libelle") or f"Chorus Pro error {data.get('codeRetour')}",
                platform=self.code,
                code=str(data.get("codeRetour")),
            )
        return data

    def _syntax(self, syntax: str) -> str:
        return (self.config.get("syntaxes") or {}).get(syntax) or SYNTAXES[syntax]

    def send_document(self, document: OutgoingDocument) -> SendResult:
        if not document.buyer_siret:
            raise PermanentPlatformError(
                "The public buyer has no SIRET: Chorus Pro routes invoices by SIRET.", platform=self.code
            )
        data = self._call(
            "/cpro/factures/v1/deposer/flux",
            {
                "fichierFlux": base64.b64encode(document.content).decode(),
                "nomFichier": document.filename,
                "syntaxeFlux": self._syntax(document.syntax),
                "avecSignature": False,
            },
        )
        return SendResult(platform_ref=f"{data['numeroFluxDepot']}|{self._syntax(document.syntax)}")

    def poll(self, *, cursor: str, pending_refs: list[str]) -> PollResult:
        updates = []
        for ref in pending_refs:
            flux, _sep, syntax = ref.partition("|")
            data = self._call(
                "/cpro/transverses/v1/consulterCRDetaille", {"numeroFluxDepot": flux, "syntaxeFlux": syntax}
            )
            state = data.get("etatCourantDepotFlux", "")
            if state in INTEGRATED:
                updates.append(
                    StatusUpdate(platform_ref=ref, code="200", at=timezone.now(), event_id=f"{flux}:200")
                )
            elif state in REJECTED:
                errors = "; ".join(
                    e.get("libelleErreur", "")
                    for e in data.get("listeErreurDP") or []
                    if e.get("libelleErreur")
                )
                updates.append(
                    StatusUpdate(
                        platform_ref=ref,
                        code="213",
                        at=timezone.now(),
                        reason=errors or state,
                        event_id=f"{flux}:213",
                    )
                )
        return PollResult(updates=updates, cursor=cursor)
