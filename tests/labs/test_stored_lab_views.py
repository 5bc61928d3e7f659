"""Every write of an Observation stores its flattened lab view beside the document, and the
lab-results reads answer from it (migration 0022), on SQLite and PostgreSQL.

Written by the ingest's bulk insert and by FHIR create, update and delete; a row without
one (written before the column existed) is read from its document, with the same answer.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from resolvers.labs.view import LabResultView
from tests.hl7v2 import messages
from tests.support import Harness

NATID = "urn:oid:1.3.6.1.4.1.9999.1"
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                   "code": "laboratory"}]}


async def _rows(h: Harness) -> dict[str, tuple[int, Any, str | None]]:
    async with h.engine.connect() as conn:
        found = await conn.execute(text(
            "SELECT id, version_id, document, lab_view FROM fhir_resources "
            "WHERE resource_type = 'Observation'"))
        return {r[0]: (r[1], r[2] if isinstance(r[2], dict) else json.loads(r[2]), r[3])
                for r in found}


def _view_of(text_: str) -> LabResultView:
    return LabResultView(**{**json.loads(text_),
                            "interpretation": tuple(json.loads(text_)["interpretation"])})


async def _items(h: Harness, patient_id: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/api/patients/{patient_id}/lab-results",
                           headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def test_ingested_observations_keep_their_view(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    patient = await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                                     family="Odhiambo", given=["Grace"],
                                     birth_date="1985-04-12", gender="female")
    r = await h.client.post("/api/lab/hl7-ingest",
                            content=(messages.WORKED_EXAMPLE + "\r").encode(),
                            headers={**h.auth("lab"), "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    rows = await _rows(h)
    assert len(rows) == 2
    for rid, (version, document, stored) in rows.items():
        assert stored is not None
        assert _view_of(stored) == LabResultView.from_document(rid, version, document)

    answered = await _items(h, patient["id"])
    assert {i["code"] for i in answered} == {"2823-3", "33762-6"}
    # A row written before the column existed has none: read from its document, the same.
    async with h.engine.begin() as conn:
        await conn.execute(text("UPDATE fhir_resources SET lab_view = NULL"))
    assert await _items(h, patient["id"]) == answered


async def test_fhir_create_update_and_delete_keep_the_view_current(
        gateway_any_db: Harness) -> None:
    h = gateway_any_db
    patient = await h.create_patient()
    headers = {**h.auth("clinician"), "Content-Type": "application/fhir+json"}
    body = {"resourceType": "Observation", "status": "final", "category": [LAB],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{patient['id']}"},
            "effectiveDateTime": "2026-01-10T08:00:00Z",
            "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}
    created = await h.client.post("/api/fhir/Observation", json=body, headers=headers)
    assert created.status_code == 201, created.text
    oid = created.json()["id"]
    version, _doc, stored = (await _rows(h))[oid]
    assert version == 1 and stored is not None and _view_of(stored).numeric_value == 4.1

    updated = await h.client.put(f"/api/fhir/Observation/{oid}", headers=headers, json={
        **body, "id": oid, "status": "amended", "valueQuantity": {"value": 5.2,
                                                                  "unit": "mmol/L"}})
    assert updated.status_code == 200, updated.text
    version, _doc, stored = (await _rows(h))[oid]
    assert version == 2 and stored is not None
    assert (_view_of(stored).version, _view_of(stored).status) == (2, "amended")
    [item] = await _items(h, patient["id"])
    assert (item["value"], item["status"], item["version"]) == ("5.2", "amended", 2)
    page = await h.gql("query($id: ID!) { patient(id: $id) { labResults { value status } } }",
                       {"id": patient["id"]}, roles=("clinician",))
    assert page["data"]["patient"]["labResults"] == [{"value": "5.2", "status": "amended"}]

    deleted = await h.client.delete(f"/api/fhir/Observation/{oid}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert (await _rows(h))[oid][2] is None
    assert await _items(h, patient["id"]) == []


async def _audited_patients(h: Harness, request_id: str) -> list[tuple[str | None, str | None]]:
    async with h.engine.connect() as conn:
        found = await conn.execute(text(
            "SELECT resource_id, patient_id FROM audit_events WHERE request_id = :r "
            "AND resource_type = 'Observation' ORDER BY patient_id"), {"r": request_id})
        return [(r[0], r[1]) for r in found]


async def test_search_audit_names_each_patient_from_a_view_or_the_document(
        gateway_any_db: Harness) -> None:
    """On SQLite a page takes a row's patient from its stored view, not from the document
    (search_sql.SubjectReference); a view its row does not vouch for, or none, sends the
    audit trail to the document. Every way, the rows name the same patients."""
    h = gateway_any_db
    headers = {**h.auth("clinician"), "Content-Type": "application/fhir+json"}
    first, second = (await h.create_patient())["id"], (await h.create_patient())["id"]
    created = {}
    for who, day in ((first, 10), (first, 11), (second, 12)):
        r = await h.client.post("/api/fhir/Observation", headers=headers, json={
            "resourceType": "Observation", "status": "final", "category": [LAB],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{who}"},
            "effectiveDateTime": f"2026-01-{day}T08:00:00Z",
            "valueQuantity": {"value": 4.1, "unit": "mmol/L"}})
        assert r.status_code == 201, r.text
        created[r.json()["id"]] = who
    only_second = next(rid for rid, who in created.items() if who == second)
    expected = sorted([(None, first), (only_second, second)], key=str)

    async def audited() -> list[tuple[str | None, str | None]]:
        r = await h.client.get("/api/fhir/Observation?status=final", headers=headers)
        assert r.status_code == 200 and r.json()["total"] == 3, r.text
        return sorted(await _audited_patients(h, r.headers["x-request-id"]), key=str)

    assert await audited() == expected  # from the stored views
    async with h.engine.begin() as conn:  # views that do not match their rows' versions
        await conn.execute(text(
            "UPDATE fhir_resources SET lab_view = REPLACE(lab_view, :was, :now) "
            "WHERE resource_type = 'Observation'"), {"was": '"version":1', "now": '"version":7'})
        stale = (await conn.execute(text(
            "SELECT count(*) FROM fhir_resources WHERE lab_view LIKE :now"),
            {"now": '%"version":7%'})).scalar_one()
    assert stale == 3
    assert await audited() == expected
    async with h.engine.begin() as conn:  # no view at all
        await conn.execute(text("UPDATE fhir_resources SET lab_view = NULL"))
    assert await audited() == expected
