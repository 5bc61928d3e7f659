"""EHR launch and standalone launch through authlib's OAuth2 client (PKCE S256), refresh
rotation, the id_token, introspection and revocation; the token at the FHIR routes. On SQLite
and PostgreSQL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.smart.support import (
    FHIR,
    approve,
    base,
    launch,
    oauth_client,
    patient_with_observation,
    register,
)
from tests.support import Harness


async def _audit_rows(h: Harness, **query: str) -> list[dict[str, Any]]:
    response = await h.client.get("/api/admin/audit-events", params=query,
                                  headers=h.auth("admin"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


async def _code_flow(h: Harness, client_id: str, scope: str,
                     **extra: str) -> dict[str, Any]:
    async with oauth_client(h, client_id, scope=scope) as client:
        verifier = generate_token(48)
        url, state = client.create_authorization_url(
            f"{base(h)}/api/smart/authorize", code_verifier=verifier, aud=f"{base(h)}{FHIR}",
            **extra)
        redirected = await approve(h, url)
        token: dict[str, Any] = await client.fetch_token(
            f"{base(h)}/api/smart/token", authorization_response=redirected,
            code_verifier=verifier, state=state)
        return token


@pytest.mark.db
async def test_ehr_launch_code_flow_at_the_fhir_routes(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    app = await register(h)
    mine, my_obs = await patient_with_observation(h, "Otieno")
    other, other_obs = await patient_with_observation(h, "Kamau")

    launched = await launch(h, mine)
    assert launched.status_code == 200, launched.text
    body = launched.json()
    assert set(body) == {"launch_id", "context"}
    context = body["context"]
    assert context["patient"] == mine and context["fhirUser"] == "Practitioner/dr-achieng"
    assert context["launch_url"] == "https://app.example/launch?" + urlencode(
        {"iss": f"{base(h)}/api/fhir", "launch": body["launch_id"]})

    token = await _code_flow(h, app["client_id"], "launch openid fhirUser offline_access "
                             "patient/Observation.rs patient/Patient.rs",
                             launch=body["launch_id"])
    assert token["token_type"] == "Bearer" and token["patient"] == mine
    assert token["access_token"].startswith("v4.public.")
    assert token["fhirUser"] == "Practitioner/dr-achieng" and token["expires_in"] > 0
    assert "refresh_token" in token and "id_token" in token

    keys = KeySet.import_key_set((await h.client.get("/.well-known/jwks.json")).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["ES384"])
    assert id_token.claims["aud"] == app["client_id"]
    assert id_token.claims["fhirUser"] == "Practitioner/dr-achieng"

    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await h.client.get(f"{FHIR}/Observation/{my_obs}", headers=bearer)).status_code == 200
    assert (await h.client.get(f"{FHIR}/Patient/{mine}", headers=bearer)).status_code == 200
    refused = await h.client.get(f"{FHIR}/Observation/{other_obs}", headers=bearer)
    assert refused.status_code == 403, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
    denied = await _audit_rows(h, patient_id=other, outcome="denied")
    assert any(f"smart_app={app['client_id']}" in r["purpose"] for r in denied), denied

    # A search is confined to the token's patient: the other patient's result is not there.
    found = await h.client.get(f"{FHIR}/Observation", headers=bearer)
    assert found.status_code == 200, found.text
    ids = {e["resource"]["id"] for e in found.json().get("entry", [])}
    assert ids == {my_obs}
    assert (await h.client.get(f"{FHIR}/Observation?patient=Patient/{other}",
                               headers=bearer)).json().get("total", 0) == 0
    # Writing is not in the scopes (rs only); the platform routes refuse the token.
    write = await h.client.delete(f"{FHIR}/Observation/{my_obs}", headers=bearer)
    assert write.status_code == 403
    assert (await h.client.get(f"/api/patients/{mine}", headers=bearer)).status_code == 403

    # Refresh: rotated, the old refresh token is refused.
    async with oauth_client(h, app["client_id"]) as client:
        renewed = await client.refresh_token(f"{base(h)}/api/smart/token",
                                             refresh_token=token["refresh_token"])
        assert renewed["refresh_token"] != token["refresh_token"]
        assert renewed["patient"] == mine
    again = await h.client.post("/api/smart/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": app["client_id"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # Introspection and revocation.
    seen = await h.client.post("/api/smart/introspect", data={"token": renewed["access_token"]},
                               headers=h.auth("integrator"))
    assert seen.json()["active"] is True and seen.json()["patient"] == mine
    assert seen.json()["client_id"] == app["client_id"]
    revoked = await h.client.post("/api/smart/revoke", data={
        "token": renewed["refresh_token"], "client_id": app["client_id"]})
    assert revoked.status_code == 200
    gone = await h.client.post("/api/smart/introspect", data={"token": renewed["refresh_token"]},
                               headers=h.auth("integrator"))
    assert gone.json() == {"active": False}
    await h.client.post("/api/smart/revoke", data={"token": renewed["access_token"],
                                                   "client_id": app["client_id"]})
    after = await h.client.post("/api/smart/introspect", data={"token": renewed["access_token"]},
                                headers=h.auth("integrator"))
    assert after.json() == {"active": False}
    refused = await h.client.get(f"{FHIR}/Observation/{my_obs}",
                                 headers={"Authorization": f"Bearer {renewed['access_token']}"})
    assert refused.status_code == 401  # a revoked access token is refused at the FHIR routes


@pytest.mark.db
async def test_standalone_launch_with_patient_picker(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    app = await register(h)
    mine, my_obs = await patient_with_observation(h, "Njeri")
    _, other_obs = await patient_with_observation(h, "Wafula")
    token = await _code_flow(h, app["client_id"], "launch/patient patient/Observation.read",
                             patient=mine)
    assert token["patient"] == mine and "refresh_token" not in token and "id_token" not in token
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await h.client.get(f"{FHIR}/Observation/{my_obs}", headers=bearer)).status_code == 200
    assert (await h.client.get(f"{FHIR}/Observation/{other_obs}",
                               headers=bearer)).status_code == 403
