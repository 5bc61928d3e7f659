"""Backend services: client_credentials with private_key_jwt (RS384 and ES384) through
authlib, on SQLite and PostgreSQL; replayed jti, wrong audience, unknown keys refused."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.smart.support import FHIR, base, oauth_client, patient_with_observation
from tests.support import Harness

Key = RSAKey | ECKey


def _key(alg: str) -> Key:
    return RSAKey.generate_key(2048, private=True) if alg == "RS384" else ECKey.generate_key(
        "P-384", private=True)


async def _backend_app(h: Harness, key: Key, **extra: Any) -> str:
    public = {**key.as_dict(private=False), "kid": key.thumbprint()}
    response = await h.client.post("/api/smart/apps", json={
        "name": "Nightly export", "scopes": ["system/Observation.rs", "system/Patient.rs"],
        "jwks": {"keys": [public]}, **extra}, headers=h.auth("admin"))
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["token_endpoint_auth_method"] == "private_key_jwt"
    assert data["client_secret"] is None
    client_id: str = data["client_id"]
    return client_id


def _assertion(h: Harness, client_id: str, key: Key, alg: str, jti: str | None = None,
               aud: str | None = None) -> str:
    now = int(time.time())
    return jwt.encode({"alg": alg, "kid": key.thumbprint()}, {
        "iss": client_id, "sub": client_id, "aud": aud or f"{base(h)}/api/smart/token",
        "exp": now + 120, "jti": jti or str(uuid.uuid4())}, key, algorithms=[alg])


@pytest.mark.db
@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_client_credentials_with_private_key_jwt(gateway_any_db: Harness,
                                                       alg: str) -> None:
    h = gateway_any_db
    key = _key(alg)
    client_id = await _backend_app(h, key)
    patient, obs = await patient_with_observation(h, "Chebet")
    # SMART: exp at most five minutes ahead (authlib's default is further).
    auth = PrivateKeyJWT(f"{base(h)}/api/smart/token", alg=alg,
                         claims={"exp": int(time.time()) + 240})
    async with oauth_client(h, client_id, client_secret=key,
                            token_endpoint_auth_method=auth) as client:
        token = await client.fetch_token(f"{base(h)}/api/smart/token",
                                         grant_type="client_credentials",
                                         scope="system/Observation.rs")
    assert token["token_type"] == "Bearer" and token["scope"] == "system/Observation.rs"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    read = await h.client.get(f"{FHIR}/Observation/{obs}", headers=bearer)
    assert read.status_code == 200, read.text
    found = await h.client.get(f"{FHIR}/Observation?patient=Patient/{patient}", headers=bearer)
    assert found.json()["total"] == 1
    # Only Observation: the Patient itself is not in the scope asked.
    assert (await h.client.get(f"{FHIR}/Patient/{patient}", headers=bearer)).status_code == 403


async def _token_with(h: Harness, assertion: str, scope: str = "system/Observation.rs",
                      ) -> tuple[int, dict[str, Any]]:
    response = await h.client.post("/api/smart/token", data={
        "grant_type": "client_credentials", "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})
    body: dict[str, Any] = response.json()
    return response.status_code, body


@pytest.mark.db
async def test_a_replayed_jti_is_refused(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    key = _key("ES384")
    client_id = await _backend_app(h, key)
    assertion = _assertion(h, client_id, key, "ES384", jti="once-only")
    assert (await _token_with(h, assertion))[0] == 200
    status, body = await _token_with(h, assertion)
    assert status == 401 and body["error"] == "invalid_client"
    assert "jti" in body["error_description"]
    # A new assertion with the same jti is a replay as well.
    status, _ = await _token_with(h, _assertion(h, client_id, key, "ES384", jti="once-only"))
    assert status == 401


async def test_assertions_that_must_fail(gateway: Harness) -> None:
    h = gateway
    key = _key("RS384")
    client_id = await _backend_app(h, key)
    wrong_aud = _assertion(h, client_id, key, "RS384", aud="https://elsewhere.example/token")
    assert (await _token_with(h, wrong_aud))[1]["error"] == "invalid_client"
    stranger = _assertion(h, client_id, _key("RS384"), "RS384")  # not the registered key
    assert (await _token_with(h, stranger))[1]["error"] == "invalid_client"
    status, body = await _token_with(h, _assertion(h, client_id, key, "RS384"),
                                     scope="system/*.cruds")  # more than registered
    assert status == 400 and body["error"] == "invalid_scope"


async def test_a_jwks_url_goes_through_the_outbound_guard(gateway: Harness) -> None:
    """A JWKS URL outside the outbound allow-list is never fetched: invalid_client."""
    h = gateway
    key = _key("ES384")
    response = await h.client.post("/api/smart/apps", json={
        "name": "Metadata thief", "scopes": ["system/Observation.rs"],
        "jwks_url": "http://169.254.169.254/latest/meta-data"}, headers=h.auth("admin"))
    client_id = response.json()["data"]["client_id"]
    status, body = await _token_with(h, _assertion(h, client_id, key, "ES384"))
    assert status == 401 and body["error"] == "invalid_client"
    assert "JWKS URL" in body["error_description"]
