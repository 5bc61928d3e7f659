"""SMART discovery: public, with CORS, at the root and at the FHIR base; the JWKS."""

from __future__ import annotations

import pytest

from tests.support import Harness


@pytest.mark.parametrize("path", ["/.well-known/smart-configuration",
                                  "/api/fhir/.well-known/smart-configuration"])
async def test_smart_configuration_is_public_with_cors(gateway: Harness, path: str) -> None:
    response = await gateway.client.get(path, headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    base = gateway.settings.public_base_url
    assert body["authorization_endpoint"] == f"{base}/api/smart/authorize"
    assert body["token_endpoint"] == f"{base}/api/smart/token"
    assert body["introspection_endpoint"] == f"{base}/api/smart/introspect"
    assert body["revocation_endpoint"] == f"{base}/api/smart/revoke"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert set(body["grant_types_supported"]) == {"authorization_code", "refresh_token",
                                                  "client_credentials"}
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]
    assert {"launch-ehr", "launch-standalone", "permission-v2", "permission-v1",
            "sso-openid-connect"} <= set(body["capabilities"])
    assert {"launch", "launch/patient", "openid", "fhirUser", "offline_access"} <= set(
        body["scopes_supported"])
    assert body["jwks_uri"] == f"{base}/.well-known/jwks.json"


async def test_jwks_publishes_the_id_token_key_only(gateway: Harness) -> None:
    response = await gateway.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-384" and key["alg"] == "ES384"
    assert "d" not in key  # never the private part
