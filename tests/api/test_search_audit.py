"""A search is audited once per patient whose data it answered (IHE BALP's query pattern):
the row names the patient, and the resource too where the answer held only one of theirs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.api.test_fhir_rest import _create, patient
from tests.db.test_search_plan import _lab
from tests.support import Harness


async def _rows(h: Harness, request_id: str) -> list[tuple[str, str | None, str | None]]:
    async with h.engines[-1].connect() as conn:
        found = await conn.execute(text(
            "SELECT resource_type, resource_id, patient_id FROM audit_events "
            "WHERE request_id = :r ORDER BY patient_id"), {"r": request_id})
        return [(r[0], r[1], r[2]) for r in found]


async def test_searches_leave_one_row_per_patient(gateway: Harness) -> None:
    h = gateway
    p1 = (await _create(h, patient("A-1", "Okello")))["id"]
    p2 = (await _create(h, patient("A-2", "Achieng")))["id"]
    for day in (1, 2, 3, 4):
        await _create(h, _lab(p1, day))
    only = (await _create(h, _lab(p2, 5)))["id"]
    clinician = h.auth("clinician")

    labs = await h.client.get(f"/api/patients/{p1}/lab-results", headers=clinician)
    assert labs.status_code == 200 and len(labs.json()["data"]["items"]) == 4
    assert await _rows(h, labs.headers["x-request-id"]) == [("Observation", None, p1)]

    search = await h.client.get("/api/fhir/Observation?status=final", headers=clinician)
    assert search.json()["total"] == 5
    assert sorted(await _rows(h, search.headers["x-request-id"]), key=str) == sorted(
        [("Observation", None, p1), ("Observation", only, p2)], key=str)

    response = await h.client.post("/graphql", headers=clinician, json={
        "query": "{ patients(first: 10) { nodes { id labResults(first: 3) { id } } } }"})
    page: dict[str, Any] = response.json()
    assert {n["id"]: len(n["labResults"]) for n in page["data"]["patients"]["nodes"]} == {
        p1: 3, p2: 1}
    rows = await _rows(h, response.headers["x-request-id"])
    observations = [r for r in rows if r[0] == "Observation"]
    assert sorted(observations, key=str) == sorted(
        [("Observation", None, p1), ("Observation", only, p2)], key=str)
    assert sorted(r for r in rows if r[0] == "Patient") == sorted(
        [("Patient", p1, p1), ("Patient", p2, p2)])

    nobody = await h.client.get("/api/fhir/Observation?patient=Patient/unknown",
                                headers=clinician)
    assert nobody.json()["total"] == 0
    assert await _rows(h, nobody.headers["x-request-id"]) == [("Observation", None, "unknown")]


@pytest.mark.db
async def test_patients_are_named_whatever_element_holds_them(gateway_any_db: Harness) -> None:
    """The store reads subject.reference out of each document; a resource whose patient is
    under ``patient`` (AllergyIntolerance), or a Patient itself, is still named."""
    h = gateway_any_db
    pid = (await _create(h, patient("B-1", "Wafula")))["id"]
    allergy = (await _create(h, {
        "resourceType": "AllergyIntolerance", "patient": {"reference": f"Patient/{pid}"},
        "code": {"text": "penicillin"}}))["id"]
    clinician = h.auth("clinician")
    allergies = await h.client.get("/api/fhir/AllergyIntolerance", headers=clinician)
    assert allergies.json()["entry"][0]["resource"]["id"] == allergy
    assert await _rows(h, allergies.headers["x-request-id"]) == [
        ("AllergyIntolerance", allergy, pid)]
    patients = await h.client.get("/api/fhir/Patient?family=Wafula", headers=clinician)
    assert await _rows(h, patients.headers["x-request-id"]) == [("Patient", pid, pid)]
    # A reference written in full (base URL, version) names the same patient.
    obs = await _create(h, {**_lab(pid, 9), "subject": {
        "reference": f"https://fhir.example.org/fhir/Patient/{pid}/_history/1"}})
    labs = await h.client.get(f"/api/fhir/Observation?_id={obs['id']}", headers=clinician)
    assert await _rows(h, labs.headers["x-request-id"]) == [("Observation", obs["id"], pid)]
