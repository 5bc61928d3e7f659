"""What the authorization server refuses: wrong code_verifier, a reused code, a redirect URI
not registered, an expired launch id, a scope the app may not have. Storage-backed refusals
run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from adapters.settings.smart import SmartSettings
from tests.smart.support import REDIRECT, base, launch, patient_with_observation, register
from tests.support import Harness, make_settings, running_app


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).decode().rstrip("=")
    return verifier, challenge


async def _authorize(h: Harness, client_id: str, challenge: str, **params: str
                     ) -> tuple[int, dict[str, list[str]], dict[str, Any] | None]:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
             "scope": "launch/patient patient/Observation.rs", "state": "s1",
             "aud": f"{base(h)}/api/fhir", "code_challenge": challenge,
             "code_challenge_method": "S256", **params}
    response = await h.client.get("/api/smart/authorize?" + urlencode(query),
                                  headers=h.auth("clinician", sub="dr-achieng"))
    if response.status_code != 302:
        return response.status_code, {}, response.json()
    return 302, parse_qs(urlsplit(response.headers["location"]).query), None


async def _exchange(h: Harness, client_id: str, code: str, verifier: str) -> tuple[int, Any]:
    response = await h.client.post("/api/smart/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier, "client_id": client_id})
    return response.status_code, response.json()


@pytest.mark.db
async def test_wrong_verifier_and_reused_code(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    app = await register(h)
    patient, _ = await patient_with_observation(h)
    verifier, challenge = _pkce()
    status, query, _ = await _authorize(h, app["client_id"], challenge, patient=patient)
    assert status == 302 and query["state"] == ["s1"]
    wrong = await _exchange(h, app["client_id"], query["code"][0], _pkce()[0])
    assert wrong[0] == 400 and wrong[1]["error"] == "invalid_grant"
    assert "code_verifier" in wrong[1]["error_description"]

    status, query, _ = await _authorize(h, app["client_id"], challenge, patient=patient)
    first = await _exchange(h, app["client_id"], query["code"][0], verifier)
    assert first[0] == 200 and first[1]["patient"] == patient
    again = await _exchange(h, app["client_id"], query["code"][0], verifier)
    assert again[0] == 400 and again[1]["error"] == "invalid_grant"


async def test_redirect_uri_not_registered_is_not_followed(gateway: Harness) -> None:
    app = await register(gateway)
    status, _, body = await _authorize(gateway, app["client_id"], _pkce()[1],
                                       redirect_uri="https://evil.example/cb", patient="p")
    assert status == 400 and body is not None and body["error"] == "invalid_request"
    assert "redirect_uri" in body["error_description"]


async def test_scope_the_app_may_not_have(gateway: Harness) -> None:
    app = await register(gateway, scopes=["launch/patient", "patient/Observation.rs"])
    status, query, _ = await _authorize(gateway, app["client_id"], _pkce()[1], patient="p",
                                        scope="launch/patient user/*.cruds")
    assert status == 302 and query["error"] == ["invalid_scope"]
    assert "user/*.cruds" in query["error_description"][0]
    assert "code" not in query


async def test_pkce_is_required(gateway: Harness) -> None:
    app = await register(gateway)
    status, query, _ = await _authorize(gateway, app["client_id"], "", patient="p",
                                        code_challenge_method="plain")
    assert status == 302 and query["error"] == ["invalid_request"]


@pytest.mark.db
async def test_expired_or_reused_launch_id(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path / "var", database_url, outbox_worker=False)
    settings = replace(settings, smart=SmartSettings(launch_seconds=1))
    async with running_app(settings) as h:
        app = await register(h)
        patient, _ = await patient_with_observation(h)
        launched = (await launch(h, patient)).json()
        _, challenge = _pkce()
        status, query, _ = await _authorize(h, app["client_id"], challenge,
                                            scope="launch patient/Observation.rs",
                                            launch=launched["launch_id"])
        assert "code" in query  # used once ...
        status, query, _ = await _authorize(h, app["client_id"], challenge,
                                            scope="launch patient/Observation.rs",
                                            launch=launched["launch_id"])
        assert query["error"] == ["invalid_request"]  # ... and not twice
        stale = (await launch(h, patient)).json()
        await asyncio.sleep(1.2)
        status, query, _ = await _authorize(h, app["client_id"], challenge,
                                            scope="launch patient/Observation.rs",
                                            launch=stale["launch_id"])
        assert status == 302 and query["error"] == ["invalid_request"]
        assert "expired" in query["error_description"][0]


async def test_launch_needs_a_registered_launch_url_and_a_clinician(gateway: Harness) -> None:
    await register(gateway)
    unknown = await launch(gateway, "p1", launch_url="https://other.example/launch")
    assert unknown.status_code == 422
    as_lab = await gateway.client.post("/api/smart/launch", json={
        "patient": "p1", "launch_url": "https://app.example/launch"},
        headers=gateway.auth("lab"))
    assert as_lab.status_code == 403
