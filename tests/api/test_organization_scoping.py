"""Organization scoping (CARI_ORG_SCOPING): clinician, lab and billing tokens see the patients
of their organization and its children, on REST, FHIR and GraphQL; admin and public_health
are unaffected; off by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Harness, make_settings, running_app

FHIR = "application/fhir+json"


@pytest.fixture
async def scoped(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path / "var", database_url, org_scoping=True)
    async with running_app(settings) as harness:
        yield harness


async def _org(h: Harness, name: str, part_of: str | None = None) -> str:
    r = await h.client.post("/api/organizations", json={"name": name, "part_of": part_of},
                            headers=h.auth("integrator"))
    assert r.status_code == 201, r.text
    org_id: str = r.json()["data"]["id"]
    return org_id


async def _patient(h: Harness, org: str, family: str) -> dict[str, Any]:
    r = await h.client.post("/api/patients", json={"family": family, "organization_id": org,
                                                   "identifiers": []}, headers=h.auth("admin"))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def _observation(h: Harness, patient_id: str) -> str:
    r = await h.client.post("/api/fhir/Observation", json={
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": 4.1, "unit": "mmol/L"}},
        headers={**h.auth("admin"), "Content-Type": FHIR})
    assert r.status_code == 201, r.text
    oid: str = r.json()["id"]
    return oid


@pytest.mark.db
async def test_rest_fhir_and_graphql_confine_to_the_organization_and_its_children(
    scoped: Harness,
) -> None:
    h = scoped
    district = await _org(h, "Kisumu district")
    clinic = await _org(h, "Kisumu clinic", part_of=district)
    other = await _org(h, "Nairobi hospital")
    mine = await _patient(h, clinic, "Achieng")
    theirs = await _patient(h, other, "Wanjiru")
    obs_mine, obs_theirs = await _observation(h, mine["id"]), await _observation(h, theirs["id"])
    at_district = h.auth("clinician", org=district)

    # REST: the child clinic's patient is visible from the district; the other is "absent".
    assert (await h.client.get(f"/api/patients/{mine['id']}", headers=at_district)
            ).status_code == 200
    assert (await h.client.get(f"/api/patients/{theirs['id']}", headers=at_district)
            ).status_code == 404
    listed = (await h.client.get("/api/patients", headers=at_district)).json()["data"]["items"]
    assert [p["id"] for p in listed] == [mine["id"]]
    # A clinic token does not see up into the district's other children.
    assert (await h.client.get(f"/api/patients/{mine['id']}",
                               headers=h.auth("clinician", org=other))).status_code == 404

    # FHIR: reads, searches and the patient's resources.
    ok = await h.client.get(f"/api/fhir/Observation/{obs_mine}", headers=at_district)
    assert ok.status_code == 200
    hidden = await h.client.get(f"/api/fhir/Observation/{obs_theirs}", headers=at_district)
    assert hidden.status_code == 404 and hidden.json()["resourceType"] == "OperationOutcome"
    patients = (await h.client.get("/api/fhir/Patient", headers=at_district)).json()
    assert [e["resource"]["id"] for e in patients.get("entry", [])] == [mine["id"]]
    unnamed = await h.client.get("/api/fhir/Observation", headers=at_district)
    assert unnamed.status_code == 403
    named = await h.client.get(f"/api/fhir/Observation?patient={theirs['id']}",
                               headers=at_district)
    assert named.status_code == 404
    lab = await h.client.get(f"/api/patients/{theirs['id']}/lab-results", headers=at_district)
    assert lab.status_code == 404

    # GraphQL goes through the same use cases.
    body = await h.gql("query($a: ID!, $b: ID!) { a: patient(id: $a) { id } "
                       "b: patient(id: $b) { id } }", {"a": mine["id"], "b": theirs["id"]},
                       roles=("clinician",), org=district)
    assert body["data"] == {"a": {"id": mine["id"]}, "b": None}

    # Writing a patient into another organization is refused; one's own is the default.
    refused = await h.client.post("/api/patients", json={"family": "X", "organization_id": other,
                                                         "identifiers": []}, headers=at_district)
    assert refused.status_code == 403
    made = await h.client.post("/api/patients", json={"family": "Otieno", "identifiers": []},
                               headers=at_district)
    assert made.status_code == 201 and made.json()["data"]["organization_id"] == district

    # Denials are audited with the patient's id.
    audit = (await h.client.get(f"/api/admin/audit-events?patient_id={theirs['id']}&outcome="
                                "denied", headers=h.auth("admin"))).json()["data"]["items"]
    assert {a["resource_type"] for a in audit} >= {"Patient", "Observation"}


@pytest.mark.db
async def test_admin_public_health_and_tokens_without_org(scoped: Harness) -> None:
    h = scoped
    org = await _org(h, "Clinic")
    patient = await _patient(h, org, "Mensah")
    for role in ("admin", "public_health"):
        r = await h.client.get(f"/api/patients/{patient['id']}", headers=h.auth(role))
        assert r.status_code == 200, role
    # A confined role without an org claim sees nobody (a token minted before scoping).
    assert (await h.client.get(f"/api/patients/{patient['id']}",
                               headers=h.auth("clinician"))).status_code == 404
    assert (await h.client.get("/api/patients", headers=h.auth("billing"))
            ).json()["data"]["items"] == []


async def test_off_by_default(gateway: Harness) -> None:
    org = await _org(gateway, "Clinic")
    other = await _org(gateway, "Other")
    patient = await _patient(gateway, org, "Mensah")
    r = await gateway.client.get(f"/api/patients/{patient['id']}",
                                 headers=gateway.auth("clinician", org=other))
    assert r.status_code == 200
