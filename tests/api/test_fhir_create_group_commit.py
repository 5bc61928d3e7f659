"""FHIR creates arriving together share transactions (resolvers/fhir/creations.py), and
each answer and each stored row is what the create alone would have got."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.support import Harness, count_queries

HEADERS = {"Content-Type": "application/fhir+json"}
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                   "code": "laboratory"}]}


def _observation(patient_id: str, n: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "category": [LAB],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": f"2026-02-{1 + n % 28:02d}T08:00:00Z",
            "valueQuantity": {"value": 4.0 + n / 100, "unit": "mmol/L"}}


async def _post(h: Harness, body: dict[str, Any]) -> Any:
    return await h.client.post("/api/fhir/Observation", json=body,
                               headers={**h.auth("clinician"), **HEADERS})


async def _rows(h: Harness, rid: str) -> dict[str, int]:
    queries = {
        "fhir": "SELECT count(*) FROM fhir_resources WHERE resource_type = 'Observation' "
                "AND id = :id AND lab_view IS NOT NULL",
        "versions": "SELECT count(*) FROM fhir_resource_versions WHERE id = :id",
        "index": "SELECT count(*) FROM fhir_search_index WHERE resource_id = :id",
        "audit": "SELECT count(*) FROM audit_events WHERE action = 'C' AND outcome = "
                 "'success' AND resource_type = 'Observation' AND resource_id = :id",
        "outbox": "SELECT count(*) FROM outbox_messages WHERE idempotency_key LIKE :key",
    }
    async with h.engine.connect() as conn:
        return {k: int((await conn.execute(text(q), {"id": rid, "key": f"%{rid}%"})
                        ).scalar_one()) for k, q in queries.items()}


@pytest.mark.db
async def test_a_burst_of_creates_is_stored_whole_in_fewer_statements(
        gateway_any_db: Harness) -> None:
    h = gateway_any_db
    patient = (await h.create_patient())["id"]
    assert (await _post(h, _observation(patient, 0))).status_code == 201  # warm
    with count_queries(h.engine) as alone_count:
        alone = await _post(h, _observation(patient, 1))
    assert alone.status_code == 201, alone.text
    whole = await _rows(h, alone.json()["id"])
    assert whole["fhir"] == whole["versions"] == whole["audit"] == 1
    assert whole["index"] > 0  # outbox rows: as many as alone (the unit test has a mirror)
    with count_queries(h.engine) as together:
        answers = await asyncio.gather(*(_post(h, _observation(patient, n))
                                         for n in range(2, 22)))
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    ids = [a.json()["id"] for a in answers]
    assert len(set(ids)) == 20
    for answer in answers:
        body = answer.json()
        assert body["meta"]["versionId"] == "1"
        assert answer.headers["location"].endswith(f"/Observation/{body['id']}/_history/1")
        assert await _rows(h, body["id"]) == whole, body["id"]
        # What the client was answered is what is stored.
        read = await h.client.get(f"/api/fhir/Observation/{body['id']}",
                                  headers=h.auth("clinician"))
        assert read.json() == body
    # Shared transactions and multi-row statements: fewer than twenty creates alone.
    assert len(together.statements) < 20 * len(alone_count.statements) / 2, (
        len(together.statements), len(alone_count.statements))


async def test_a_conditional_create_still_answers_the_match(gateway: Harness) -> None:
    h = gateway
    patient = (await h.create_patient())["id"]
    body = {**_observation(patient, 3), "identifier": [{"system": "urn:test:obs",
                                                          "value": "OBS-1"}]}
    first = await _post(h, body)
    assert first.status_code == 201, first.text
    again = await h.client.post("/api/fhir/Observation", json=body, headers={
        **h.auth("clinician"), **HEADERS, "If-None-Exist": "identifier=urn:test:obs|OBS-1"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
