"""SMART test helpers: registering apps, patients with observations, the approval step."""

from __future__ import annotations

from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.support import Harness

REDIRECT = "https://app.example/callback"
LAUNCH_URL = "https://app.example/launch"
FHIR = "/api/fhir"


async def register(h: Harness, **body: Any) -> dict[str, Any]:
    payload = {"name": "Growth charts", "redirect_uris": [REDIRECT],
               "launch_urls": [LAUNCH_URL],
               "scopes": ["launch", "launch/patient", "openid", "fhirUser", "offline_access",
                          "patient/*.rs", "patient/Observation.cruds", "user/*.rs"], **body}
    response = await h.client.post("/api/smart/apps", json=payload, headers=h.auth("admin"))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def observation(patient_id: str, code: str = "2823-3",
                category: str = "laboratory") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}


async def patient_with_observation(h: Harness, family: str = "Mwangi",
                                   category: str = "laboratory") -> tuple[str, str]:
    patient = await h.create_patient(family=family)
    response = await h.client.post(f"{FHIR}/Observation",
                                   json=observation(patient["id"], category=category),
                                   headers={**h.auth("clinician"),
                                            "Content-Type": "application/fhir+json"})
    assert response.status_code == 201, response.text
    return patient["id"], response.json()["id"]


async def launch(h: Harness, patient: str, launch_url: str = LAUNCH_URL) -> httpx.Response:
    return await h.client.post("/api/smart/launch", json={
        "patient": patient, "encounter": None, "launch_url": launch_url},
        headers=h.auth("clinician", sub="dr-achieng"))


def base(h: Harness) -> str:
    """The gateway's public base URL (its endpoints' and the FHIR base's URLs)."""
    return h.settings.public_base_url


def oauth_client(h: Harness, client_id: str, **kwargs: Any) -> AsyncOAuth2Client:
    """authlib's client, talking to the app in process (whatever host a URL names)."""
    return AsyncOAuth2Client(client_id, redirect_uri=REDIRECT, code_challenge_method="S256",
                             transport=httpx.ASGITransport(app=h.app), base_url=base(h),
                             **kwargs)


async def approve(h: Harness, url: str, sub: str = "dr-achieng") -> str:
    """The signed-in user's approval: the authorization request sent on with their platform
    token; the answer is the redirect to the app (its Location)."""
    response = await h.client.get(url.removeprefix(base(h)),
                                  headers=h.auth("clinician", sub=sub))
    assert response.status_code == 302, response.text
    return response.headers["location"]
