"""Lab ingest under concurrency: messages arriving together share transactions, and the
answers stay exactly what each message alone would have got."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient, _text
from tests.support import (
    Harness,
    count_queries,
    fresh_postgres_database,
    make_settings,
    running_app,
)


def _distinct(i: int) -> str:
    """The worked example as a different message and order (its own results, not a copy)."""
    return WORKED_EXAMPLE.replace("LAB000123", f"LABG{i:04d}").replace("FIL552", f"FILG{i:04d}")


@pytest.mark.db
async def test_thirty_messages_at_once_are_all_stored_with_fewer_statements(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    patient = await _known_patient(h)
    assert (await _ingest(h, _distinct(999))).status_code == 200  # warm caches
    with count_queries(h.engine) as alone:
        assert (await _ingest(h, _distinct(998))).status_code == 200
    with count_queries(h.engine) as together:
        answers = await asyncio.gather(*(_ingest(h, _distinct(i)) for i in range(30)))
    assert {a.status_code for a in answers} == {200}
    data = [a.json()["data"] for a in answers]
    assert all(d["patient_id"] == patient["id"] and d["observations_created"] == 2 for d in data)
    assert len({d["lab_result_id"] for d in data}) == 30
    observations = await h.client.get(f"/api/fhir/Observation?patient={patient['id']}&_count=0",
                                      headers=h.auth("clinician"))
    assert observations.json()["total"] == 2 * 32
    # Shared transactions: far fewer statements than 30 messages written one by one.
    assert together.count < 30 * alone.count / 2, (together.count, alone.count)


@pytest.mark.db
async def test_an_original_and_its_correction_arriving_together_give_one_result(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    patient = await _known_patient(h)
    corrected = (WORKED_EXAMPLE.replace("LAB000123", "LAB000124")
                 .replace("||6.9|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|",
                          "||5.0|mmol/L^mmol/L^UCUM|3.5-5.1|N|||C|"))
    others = [_distinct(i) for i in range(6)]
    answers = await asyncio.gather(*(_ingest(h, m) for m in [*others[:3], WORKED_EXAMPLE,
                                                             corrected, *others[3:]]))
    assert {a.status_code for a in answers} == {200}
    items = (await h.client.get(f"/api/patients/{patient['id']}/lab-results?code=2823-3",
                                headers=h.auth("clinician"))).json()["data"]["items"]
    # Seven potassium results in all: the six others, and ONE for the original + correction.
    versions = sorted(i["version"] for i in items)
    assert versions == [1] * 6 + [2], versions


async def test_one_bad_message_in_a_busy_moment_fails_alone(gateway: Harness) -> None:
    h = gateway
    patient = await _known_patient(h)
    encounter = await h.client.post("/api/fhir/Encounter", json={
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient['id']}"}},
        headers={**h.auth("clinician"), "Content-Type": "application/fhir+json"})
    eid = encounter.json()["id"]

    async def clinical(i: int, encounter_id: str) -> Any:
        return await h.client.post(f"/api/clinical/hl7/ingest?encounter_id={encounter_id}",
                                   content=_distinct(i).encode(), headers=_text(h, "clinician"))

    answers = await asyncio.gather(*(clinical(i, "no-such-encounter" if i == 4 else eid)
                                     for i in range(10)))
    assert [a.status_code for a in answers] == [200] * 4 + [422] + [200] * 5
    results = await h.client.get(f"/api/patients/{patient['id']}/lab-results",
                                 headers=h.auth("clinician"))
    assert len(results.json()["data"]["items"]) == 18  # 9 messages x 2 results; none for #4


@pytest.mark.db
async def test_large_messages_sharing_a_transaction_stay_within_driver_limits(
    gateway_any_db: Harness,
) -> None:
    """Ten 150-OBX messages at once: thousands of rows in one transaction's multi-row
    inserts (well past SQLite's and asyncpg's per-statement parameter caps)."""
    from tests.hl7v2 import messages

    h = gateway_any_db
    patient = await h.create_patient(
        # The laboratory's PID-3 (MRN1 from HOSP, OID 2.16.840.1.113883.19.5) names her.
        identifiers=[{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN1"}],
        family="Doe", given=["Jane"], birth_date="1990-01-01", gender="female")

    def big(i: int) -> str:
        return messages.oru(150, control_id=f"BIG{i}").replace("FIL1", f"FILBIG{i}") + "\r"

    answers = await asyncio.gather(*(_ingest(h, big(i)) for i in range(10)))
    assert [a.status_code for a in answers] == [200] * 10, answers[0].text
    assert all(a.json()["data"]["patient_id"] == patient["id"] for a in answers)
    assert {a.json()["data"]["observations_created"] for a in answers} == {150}
    total = await h.client.get(f"/api/fhir/Observation?patient={patient['id']}&_count=0",
                               headers=h.auth("clinician"))
    assert total.json()["total"] == 1500


async def test_an_original_and_its_correction_sent_to_two_processes_give_one_result(
    tmp_path: Path,
) -> None:
    """Two gateway instances on one PostgreSQL database (as behind a load balancer)."""
    async with fresh_postgres_database() as url:
        settings = make_settings(tmp_path / "var", url)
        async with running_app(settings) as a, running_app(settings) as b:
            patient = await _known_patient(a)

            def pair(i: int) -> tuple[str, str]:
                original = _distinct(i)
                corrected = (original.replace(f"LABG{i:04d}", f"LABC{i:04d}")
                             .replace("||6.9|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|",
                                      "||5.0|mmol/L^mmol/L^UCUM|3.5-5.1|N|||C|"))
                return original, corrected

            pairs = [pair(i) for i in range(8)]
            answers = await asyncio.gather(*(
                _ingest(h, message) for original, corrected in pairs
                for h, message in ((a, original), (b, corrected))))
            assert {r.status_code for r in answers} == {200}
            items = (await a.client.get(
                f"/api/patients/{patient['id']}/lab-results?code=2823-3",
                headers=a.auth("clinician"))).json()["data"]["items"]
            assert sorted(i["version"] for i in items) == [2] * 8, items


@pytest.mark.db
async def test_results_for_one_unknown_patient_arriving_together_make_one_patient(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    answers = await asyncio.gather(*(_ingest(h, _distinct(i)) for i in range(12)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    patient_ids = {a.json()["data"]["patient_id"] for a in answers}
    assert len(patient_ids) == 1 and None not in patient_ids
    grades = sorted(a.json()["data"]["match_grade"] for a in answers)
    assert grades.count("new") >= 1 and set(grades) <= {"new", "certain"}
    patients = await h.client.get("/api/patients", headers=h.auth("clinician"))
    assert len(patients.json()["data"]["items"]) == 1
