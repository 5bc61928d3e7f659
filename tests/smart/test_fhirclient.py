"""fhirclient (the SMART on FHIR Python client) against a real gateway process: an EHR
launch and a standalone launch (launch/patient with the patient picker's choice), then FHIR
reads with the token, inside and outside the patient's compartment."""

from __future__ import annotations

import asyncio
from json import dumps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fhirclient import client
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient

from tests.smart.support import LAUNCH_URL, REDIRECT, observation
from tests.support import LiveServer, live_server

pytestmark = pytest.mark.slow


def _call(srv: LiveServer, method: str, path: str, token: str, json: Any,
          content_type: str = "application/json") -> Any:
    response = httpx.request(method, srv.base_url + path, timeout=10, content=dumps(json),
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": content_type})
    assert response.status_code in (200, 201), response.text
    return response.json()


def _world(srv: LiveServer) -> dict[str, str]:
    admin, clinician = srv.token("admin"), srv.token("clinician", sub="dr-otieno")
    app = _call(srv, "POST", "/api/smart/apps", admin, json={
        "name": "fhirclient app", "redirect_uris": [REDIRECT], "launch_urls": [LAUNCH_URL],
        "scopes": ["launch", "launch/patient", "openid", "fhirUser", "patient/*.rs"]})["data"]
    ids: dict[str, str] = {"client_id": app["client_id"], "clinician": clinician}
    for name in ("mine", "other"):
        patient = _call(srv, "POST", "/api/patients", clinician, json={
            "identifiers": [{"system": "urn:test:mrn", "value": f"fc-{name}"}],
            "family": name.title(), "given": ["Test"]})["data"]
        obs = _call(srv, "POST", "/api/fhir/Observation", clinician,
                    json=observation(patient["id"]), content_type="application/fhir+json")
        ids[name], ids[f"{name}_obs"] = patient["id"], obs["id"]
    return ids


def _approve(srv: LiveServer, url: str, token: str) -> str:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def _reads(smart: client.FHIRClient, ids: dict[str, str]) -> None:
    found = Observation.read(ids["mine_obs"], smart.server)
    assert found.subject.reference == f"Patient/{ids['mine']}"
    assert Patient.read(ids["mine"], smart.server).id == ids["mine"]
    with pytest.raises(Exception, match="403"):
        Observation.read(ids["other_obs"], smart.server)


@pytest.mark.db
async def test_ehr_and_standalone_launch_with_fhirclient(tmp_path: Path,
                                                       database_url: str) -> None:
    """The server process on the test's database; fhirclient (blocking) in a thread."""
    await asyncio.to_thread(_launches, tmp_path, database_url)


def _launches(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path / "var", {"CARI_DATABASE_URL": database_url}) as srv:
        ids = _world(srv)
        launched = _call(srv, "POST", "/api/smart/launch", ids["clinician"], json={
            "patient": ids["mine"], "launch_url": LAUNCH_URL})
        sent_to = parse_qs(urlsplit(launched["context"]["launch_url"]).query)
        assert sent_to["iss"] == [f"{srv.base_url}/api/fhir"]

        # EHR launch: the app got iss and launch on its launch URL.
        ehr = client.FHIRClient(settings={
            "app_id": ids["client_id"], "api_base": sent_to["iss"][0],
            "redirect_uri": REDIRECT, "launch_token": sent_to["launch"][0],
            "scope": "launch openid fhirUser patient/*.rs"})
        ehr.handle_callback(_approve(srv, ehr.authorize_url, ids["clinician"]))
        assert ehr.ready and ehr.patient_id == ids["mine"]
        _reads(ehr, ids)

        # Standalone launch: launch/patient; the platform's patient picker adds patient=.
        alone = client.FHIRClient(settings={
            "app_id": ids["client_id"], "api_base": f"{srv.base_url}/api/fhir",
            "redirect_uri": REDIRECT, "scope": "launch/patient patient/*.rs"})
        picked = f"{alone.authorize_url}&patient={ids['mine']}"
        alone.handle_callback(_approve(srv, picked, ids["clinician"]))
        assert alone.ready and alone.patient_id == ids["mine"]
        _reads(alone, ids)
