"""With organization scoping on, a SMART token acts within the approving user's
organization: the app sees no more than the user would."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.smart.support import REDIRECT, base, register
from tests.smart.test_refusals import _exchange, _pkce
from tests.support import make_settings, running_app


@pytest.mark.db
async def test_the_token_carries_the_users_organization(tmp_path: Path,
                                                        database_url: str) -> None:
    settings = make_settings(tmp_path / "var", database_url, org_scoping=True,
                             outbox_worker=False)
    async with running_app(settings) as h:
        orgs = []
        for name in ("Kisumu clinic", "Nairobi hospital"):
            r = await h.client.post("/api/organizations", json={"name": name},
                                    headers=h.auth("integrator"))
            orgs.append(r.json()["data"]["id"])
        patients = []
        for org, family in zip(orgs, ("Achieng", "Wanjiru"), strict=True):
            r = await h.client.post("/api/patients", json={
                "family": family, "organization_id": org, "identifiers": []},
                headers=h.auth("admin"))
            patients.append(r.json()["data"]["id"])
        app = await register(h, scopes=["user/*.rs"])
        verifier, challenge = _pkce()
        approved = await h.client.get("/api/smart/authorize?" + urlencode({
            "response_type": "code", "client_id": app["client_id"], "redirect_uri": REDIRECT,
            "scope": "user/*.rs", "state": "s", "aud": f"{base(h)}/api/fhir",
            "code_challenge": challenge, "code_challenge_method": "S256"}),
            headers=h.auth("clinician", sub="dr-kisumu", org=orgs[0]))
        code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
        status, token = await _exchange(h, app["client_id"], code, verifier)
        assert status == 200, token
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await h.client.get(f"/api/fhir/Patient/{patients[0]}",
                                   headers=bearer)).status_code == 200
        assert (await h.client.get(f"/api/fhir/Patient/{patients[1]}",
                                   headers=bearer)).status_code == 404
