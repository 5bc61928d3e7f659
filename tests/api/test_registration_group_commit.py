"""Patient registration under concurrency: REST and FHIR creates arriving together share
transactions, and each answer is what the registration alone would have got."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.support import Harness, count_queries

SYSTEM = "urn:test:burst"
FHIR_HEADERS = {"Content-Type": "application/fhir+json"}


def _rest(value: str, **extra: Any) -> dict[str, Any]:
    return {"identifiers": [{"system": SYSTEM, "value": value}], "family": "Mutesi",
            "given": ["Aline"], "birth_date": "1990-04-12", "gender": "female", **extra}


def _fhir(value: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": value}],
            "name": [{"family": "Uwase", "given": ["Grace"]}], "gender": "female",
            "birthDate": "1988-02-01", "address": [{"city": "Kigali"}], **extra}


async def _post_rest(h: Harness, body: dict[str, Any]) -> Any:
    return await h.client.post("/api/patients", json=body, headers=h.auth("clinician"))


async def _post_fhir(h: Harness, body: dict[str, Any]) -> Any:
    return await h.client.post("/api/fhir/Patient", json=body,
                               headers={**h.auth("clinician"), **FHIR_HEADERS})


async def _rows(h: Harness, patient_id: str) -> dict[str, int]:
    queries = {
        "patients": "SELECT count(*) FROM patients WHERE id = :id",
        "identifiers": "SELECT count(*) FROM patient_identifiers WHERE patient_id = :id",
        "fhir": "SELECT count(*) FROM fhir_resources WHERE resource_type = 'Patient' "
                "AND id = :id",
        "versions": "SELECT count(*) FROM fhir_resource_versions WHERE id = :id",
        "match_record": "SELECT count(*) FROM mpi_match_records WHERE patient_id = :id",
        "audit": "SELECT count(*) FROM audit_events WHERE action = 'C' AND "
                 "outcome = 'success' AND resource_type = 'Patient' AND patient_id = :id",
    }
    async with h.engine.connect() as conn:
        counts = {k: int((await conn.execute(text(q), {"id": patient_id})).scalar_one())
                  for k, q in queries.items()}
        counts["blocking_keys"] = min(1, int((await conn.execute(text(
            "SELECT count(*) FROM mpi_blocking_keys WHERE patient_id = :id"),
            {"id": patient_id})).scalar_one()))
    return counts


@pytest.mark.db
async def test_a_burst_of_rest_and_fhir_registrations_is_stored_whole_in_fewer_statements(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    assert (await _post_rest(h, _rest("warm-rest"))).status_code == 201
    assert (await _post_fhir(h, _fhir("warm-fhir"))).status_code == 201
    with count_queries(h.engine) as alone:
        assert (await _post_rest(h, _rest("alone"))).status_code == 201
    with count_queries(h.engine) as together:
        answers = await asyncio.gather(
            *(_post_rest(h, _rest(f"R{i}")) for i in range(15)),
            *(_post_fhir(h, _fhir(f"F{i}")) for i in range(15)))
    assert [a.status_code for a in answers] == [201] * 30, [a.text for a in answers]
    rest_ids = [a.json()["data"]["id"] for a in answers[:15]]
    fhir_ids = [a.json()["id"] for a in answers[15:]]
    assert len(set(rest_ids + fhir_ids)) == 30
    whole = {"patients": 1, "identifiers": 1, "fhir": 1, "versions": 1, "match_record": 1,
             "audit": 1, "blocking_keys": 1}
    for pid in rest_ids + fhir_ids:
        assert await _rows(h, pid) == whole, pid
    # The FHIR document is what the client gets back, and the MPI row follows it.
    doc = (await h.client.get(f"/api/fhir/Patient/{fhir_ids[0]}",
                              headers=h.auth("clinician"))).json()
    assert doc["meta"]["versionId"] == "1" and doc["address"][0]["city"] == "Kigali"
    row = (await h.client.get(f"/api/patients/{fhir_ids[0]}",
                              headers=h.auth("clinician"))).json()["data"]
    assert row["family"] == "Uwase" and row["identifiers"][0]["value"] == "F0"
    # Shared transactions: far fewer statements than 30 registrations one by one.
    assert together.count < 30 * alone.count / 2, (together.count, alone.count)


@pytest.mark.db
async def test_the_same_identifier_at_once_registers_one_patient_and_refuses_the_rest(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    answers = await asyncio.gather(
        *(_post_rest(h, _rest("SAME", family=f"Rest{i}")) for i in range(4)),
        *(_post_fhir(h, _fhir("SAME")) for i in range(4)),
        *(_post_rest(h, _rest(f"OTHER{i}")) for i in range(4)))
    statuses = [a.status_code for a in answers]
    assert sorted(statuses[:8]) == [201] + [409] * 7, statuses
    assert statuses[8:] == [201] * 4  # the others in the same moment are not touched
    for a in answers[:8]:
        if a.status_code != 409:
            continue
        if a.headers["content-type"].startswith("application/fhir+json"):
            assert a.json()["issue"][0]["code"] == "duplicate"
        else:
            assert a.json()["error"]["code"] == "conflict"
            assert a.json()["error"]["details"]["system"] == SYSTEM
    found = await h.client.get("/api/patients", params={"identifier": f"{SYSTEM}|SAME"},
                               headers=h.auth("clinician"))
    assert len(found.json()["data"]["items"]) == 1


async def test_a_refused_registration_in_a_busy_moment_fails_alone(gateway: Harness) -> None:
    h = gateway
    taken = await _post_rest(h, _rest("TAKEN"))
    assert taken.status_code == 201
    answers = await asyncio.gather(
        *(_post_rest(h, _rest(f"OK{i}")) for i in range(5)),
        _post_rest(h, _rest("TAKEN")),
        _post_rest(h, _rest("NEW-ORG", organization_id="no-such-organization")),
        _post_fhir(h, _fhir("TAKEN")),
        *(_post_fhir(h, _fhir(f"FOK{i}")) for i in range(5)))
    statuses = [a.status_code for a in answers]
    assert statuses == [201] * 5 + [409, 422, 409] + [201] * 5, [a.text for a in answers]
    assert answers[5].json()["error"]["details"]["patient_id"] == taken.json()["data"]["id"]
    assert answers[6].json()["error"]["details"][0]["field"] == "organization_id"
    assert answers[7].json()["issue"][0]["code"] == "duplicate"
    listed = await h.client.get("/api/patients", params={"limit": 100},
                                headers=h.auth("clinician"))
    assert len(listed.json()["data"]["items"]) == 11
