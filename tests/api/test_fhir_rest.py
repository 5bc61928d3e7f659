"""FHIR REST at /api/fhir: CRUD, versions, conditional create, search, bundles, $validate."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Harness

FHIR = "application/fhir+json"
LOINC = "http://loinc.org"


def _h(h: Harness, *roles: str, **extra: str) -> dict[str, str]:
    return {**h.auth(*(roles or ("clinician",))), "Content-Type": FHIR, **extra}


def patient(mrn: str = "MRN-1", family: str = "Nakato") -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": "urn:ug:mrn", "value": mrn}],
            "name": [{"family": family, "given": ["Sarah"]}], "gender": "female",
            "birthDate": "1991-06-15", "address": [{"city": "Kampala", "country": "UG"}]}


def observation(patient_id: str, code: str = "2823-3", value: float = 4.1,
                when: str = "2026-01-10T08:00:00Z") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "mmol/L",
                              "system": "http://unitsofmeasure.org", "code": "mmol/L"}}


async def _create(h: Harness, resource: dict[str, Any], **headers: str) -> dict[str, Any]:
    r = await h.client.post(f"/api/fhir/{resource['resourceType']}", json=resource,
                            headers=_h(h, **headers))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_capability_statement_is_public_and_truthful(gateway: Harness) -> None:
    r = await gateway.client.get("/api/fhir/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith(FHIR)
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    types = {res["type"]: res for res in cs["rest"][0]["resource"]}
    assert {"Patient", "Observation", "DiagnosticReport", "Immunization"} <= set(types)
    obs_params = {p["name"] for p in types["Observation"]["searchParam"]}
    assert {"patient", "subject", "code", "date", "status", "identifier", "_id"} <= obs_params
    assert {"transaction", "batch"} == {i["code"] for i in cs["rest"][0]["interaction"]}
    # Bundle and OperationOutcome are validated ($validate), never stored.
    for validate_only in ("Bundle", "OperationOutcome"):
        assert "interaction" not in types[validate_only]
        assert [o["name"] for o in types[validate_only]["operation"]] == ["validate"]


async def test_crud_versions_and_history(gateway: Harness) -> None:
    c = gateway.client
    r = await c.post("/api/fhir/Patient", json=patient(), headers=_h(gateway))
    assert r.status_code == 201
    created = r.json()
    pid = created["id"]
    assert r.headers["etag"] == 'W/"1"' and created["meta"]["versionId"] == "1"
    assert r.headers["location"].endswith(f"/api/fhir/Patient/{pid}/_history/1")
    assert created["address"] == [{"city": "Kampala", "country": "UG"}]

    read = await c.get(f"/api/fhir/Patient/{pid}", headers=_h(gateway))
    assert read.status_code == 200 and read.json() == created

    changed = {**created, "gender": "other"}
    stale = await c.put(f"/api/fhir/Patient/{pid}", json=changed,
                        headers=_h(gateway, **{"If-Match": 'W/"9"'}))
    assert stale.status_code == 412 and stale.json()["resourceType"] == "OperationOutcome"
    ok = await c.put(f"/api/fhir/Patient/{pid}", json=changed,
                     headers=_h(gateway, **{"If-Match": 'W/"1"'}))
    assert ok.status_code == 200 and ok.json()["meta"]["versionId"] == "2"
    v1 = await c.get(f"/api/fhir/Patient/{pid}/_history/1", headers=_h(gateway))
    assert v1.json()["gender"] == "female"
    assert (await c.delete(f"/api/fhir/Patient/{pid}", headers=_h(gateway))).status_code == 204
    gone = await c.get(f"/api/fhir/Patient/{pid}", headers=_h(gateway))
    assert gone.status_code == 410 and gone.json()["issue"][0]["code"] == "deleted"
    history = (await c.get(f"/api/fhir/Patient/{pid}/_history", headers=_h(gateway))).json()
    assert history["type"] == "history" and history["total"] == 3
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT", "POST"]


async def test_errors_are_operation_outcomes_with_right_status(gateway: Harness) -> None:
    c = gateway.client
    r = await c.get("/api/fhir/Patient/nope")
    assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await c.get("/api/fhir/Patient/nope", headers=_h(gateway, "billing"))
    assert r.status_code == 403 and r.json()["issue"][0]["code"] == "forbidden"
    r = await c.get("/api/fhir/Patient/nope", headers=_h(gateway))
    assert r.status_code == 404 and r.json()["issue"][0]["code"] == "not-found"
    r = await c.get("/api/fhir/Spaceship/1", headers=_h(gateway))
    assert r.status_code == 404 and r.json()["issue"][0]["code"] == "not-supported"
    r = await c.post("/api/fhir/Patient", content=b"<Patient/>",
                     headers=_h(gateway, **{"Content-Type": "application/fhir+xml"}))
    assert r.status_code == 415
    r = await c.post("/api/fhir/Patient", content=b"{oops", headers=_h(gateway))
    assert r.status_code == 400 and r.json()["issue"][0]["code"] == "structure"
    r = await c.get("/api/fhir/Patient?_format=xml", headers=_h(gateway))
    assert r.status_code == 406
    r = await c.put("/api/fhir/Patient/a", json={**patient(), "id": "b"}, headers=_h(gateway))
    assert r.status_code == 400


async def test_invalid_resource_is_refused_with_every_issue_and_nothing_stored(
    gateway: Harness,
) -> None:
    bad = {"resourceType": "Observation", "code": {"text": "glucose"}, "valueQuantity": {
        "value": "high"}, "unknownElement": 1}
    r = await gateway.client.post("/api/fhir/Observation", json=bad, headers=_h(gateway))
    assert r.status_code in (400, 422)
    outcome = r.json()
    expressions = {e for i in outcome["issue"] for e in i.get("expression", [])}
    assert {"Observation.status", "Observation.subject"} <= expressions
    assert len(outcome["issue"]) >= 3
    search = await gateway.client.get("/api/fhir/Observation", headers=_h(gateway))
    assert search.json()["total"] == 0


async def test_conditional_create(gateway: Harness) -> None:
    crit = {"If-None-Exist": "identifier=urn:ug:mrn|MRN-77"}
    first = await gateway.client.post("/api/fhir/Patient", json=patient("MRN-77"),
                                      headers=_h(gateway, **crit))
    again = await gateway.client.post("/api/fhir/Patient", json=patient("MRN-77"),
                                      headers=_h(gateway, **crit))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # Two observations share an accession number: the condition is ambiguous.
    accession = {"identifier": [{"system": "urn:lab:accession", "value": "A1"}]}
    for _ in range(2):
        await _create(gateway, {**observation(first.json()["id"]), **accession})
    many = await gateway.client.post(
        "/api/fhir/Observation", json={**observation(first.json()["id"]), **accession},
        headers=_h(gateway, **{"If-None-Exist": "identifier=urn:lab:accession|A1"}))
    assert many.status_code == 412 and many.json()["issue"][0]["code"] == "multiple-matches"


@pytest.mark.db
async def test_search_parameters_on_each_database(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    p1 = (await _create(h, patient("S-1", "Okello")))["id"]
    p2 = (await _create(h, patient("S-2", "Achieng")))["id"]
    for i, day in enumerate(("2026-01-01", "2026-01-15", "2026-02-01")):
        await _create(h, observation(p1, when=f"{day}T09:00:00Z", value=float(i)))
    await _create(h, observation(p2, code="718-7", when="2025-12-31T10:00:00Z"))

    async def ids(query: str) -> list[str]:
        r = await h.client.get(f"/api/fhir/{query}", headers=_h(h))
        assert r.status_code == 200, r.text
        return [e["resource"]["id"] for e in r.json()["entry"]]

    async def total(query: str) -> int:
        r = await h.client.get(f"/api/fhir/{query}", headers=_h(h))
        return int(r.json()["total"])

    assert await total(f"Observation?patient={p1}") == 3
    assert await total(f"Observation?subject=Patient/{p2}") == 1
    assert await total(f"Observation?code={LOINC}|718-7") == 1
    assert await total("Observation?code=2823-3") == 3
    assert await total("Observation?code=http://other|2823-3") == 0
    assert await total("Observation?date=ge2026-01-10&date=lt2026-02-01") == 1
    assert await total("Observation?date=2026-01") == 2
    assert await total("Observation?status=final,amended") == 4
    assert await total("Patient?name=okel") == 1
    assert await total("Patient?family:exact=achieng") == 1
    assert await total("Patient?birthdate=1991") == 2
    assert await total("Patient?identifier=urn:ug:mrn|S-2") == 1
    assert await total(f"Patient?_id={p1},{p2}") == 2
    assert await total("Observation?unknown=1") == 4  # lenient: ignored
    strict = await h.client.get("/api/fhir/Observation?unknown=1",
                                headers=_h(h, Prefer="handling=strict"))
    assert strict.status_code == 400
    assert (await h.client.get("/api/fhir/Observation?date=yesterday",
                               headers=_h(h))).status_code == 400
    newest_first = await ids(f"Observation?patient={p1}&_sort=-date")
    oldest_first = await ids(f"Observation?patient={p1}&_sort=date")
    assert newest_first == oldest_first[::-1]
    page = (await h.client.get(f"/api/fhir/Observation?patient={p1}&_count=2&_sort=date",
                               headers=_h(h))).json()
    assert len(page["entry"]) == 2 and page["total"] == 3
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    rest = (await h.client.get(next_url.split("/api/fhir/", 1)[1].join(["/api/fhir/", ""]),
                               headers=_h(h))).json()
    assert [e["resource"]["id"] for e in page["entry"] + rest["entry"]] == oldest_first
    form = await h.client.post("/api/fhir/Observation/_search", content=f"patient={p2}",
                               headers={**h.auth("clinician"),
                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert form.json()["total"] == 1


WORKED_EXAMPLE = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"fullUrl": "urn:uuid:7d1e0c2a-0000-4000-8000-000000000001",
     "resource": {"resourceType": "Patient",
                  "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN4455"}]},
     "request": {"method": "POST", "url": "Patient",
                 "ifNoneExist": "identifier=urn:oid:2.16.840.1.113883.19.5|MRN4455"}},
    {"resource": {"resourceType": "Observation", "status": "final",
                  "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
                  "subject": {"reference": "urn:uuid:7d1e0c2a-0000-4000-8000-000000000001"},
                  "valueQuantity": {"value": 6.9, "unit": "mmol/L"}},
     "request": {"method": "POST", "url": "Observation"}}]}


@pytest.mark.db
async def test_transaction_worked_example_is_idempotent_for_the_patient(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    first = await h.client.post("/api/fhir", json=WORKED_EXAMPLE, headers=_h(h))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    patient_ref = body["entry"][0]["response"]["location"].rsplit("/_history", 1)[0]
    assert body["entry"][1]["resource"]["subject"]["reference"] == patient_ref
    second = (await h.client.post("/api/fhir", json=WORKED_EXAMPLE, headers=_h(h))).json()
    assert second["entry"][0]["response"]["status"] == "200 OK"
    assert second["entry"][1]["resource"]["subject"]["reference"] == patient_ref
    patients = (await h.client.get("/api/fhir/Patient", headers=_h(h))).json()
    assert patients["total"] == 1


async def test_transaction_is_all_or_nothing(gateway: Harness) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient("T-1"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "code": {"text": "x"}},
         "request": {"method": "POST", "url": "Observation"}}]}
    r = await gateway.client.post("/api/fhir", json=bundle, headers=_h(gateway))
    assert r.status_code in (400, 422)
    expressions = {e for i in r.json()["issue"] for e in i.get("expression", [])}
    assert "Bundle.entry[1].resource.status" in expressions
    listed = await gateway.client.get("/api/fhir/Patient", headers=_h(gateway))
    assert listed.json()["total"] == 0
    # A failure found while applying (a version conflict) also leaves nothing behind.
    existing = await _create(gateway, patient("T-2"))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient("T-3"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": existing, "request": {"method": "PUT", "url": f"Patient/{existing['id']}",
                                           "ifMatch": 'W/"5"'}}]}
    r = await gateway.client.post("/api/fhir", json=bundle, headers=_h(gateway))
    assert r.status_code == 412
    assert (await gateway.client.get("/api/fhir/Patient", headers=_h(gateway))).json()["total"] == 1


async def test_batch_entries_succeed_or_fail_on_their_own(gateway: Harness) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": patient("B-1"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation"}, "request": {"method": "POST",
                                                                   "url": "Observation"}},
        {"request": {"method": "GET", "url": "Patient/missing"}}]}
    r = await gateway.client.post("/api/fhir", json=bundle, headers=_h(gateway))
    assert r.status_code == 200
    statuses = [e["response"]["status"] for e in r.json()["entry"]]
    assert statuses[0] == "201 Created" and statuses[1] in ("400", "422") and statuses[2] == "404"
    assert r.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


async def test_validate_operation(gateway: Harness) -> None:
    good = await gateway.client.post("/api/fhir/Patient/$validate", json=patient(),
                                     headers=_h(gateway))
    assert good.status_code == 200
    assert all(i["severity"] not in ("error", "fatal") for i in good.json()["issue"])
    wrapped = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Observation"}}]}
    bad = await gateway.client.post("/api/fhir/$validate", json=wrapped, headers=_h(gateway))
    assert bad.status_code == 200
    assert any(i["severity"] == "error" for i in bad.json()["issue"])


async def _validate(h: Harness, resource_type: str, body: dict[str, Any]) -> list[Any]:
    r = await h.client.post(f"/api/fhir/{resource_type}/$validate", json=body, headers=_h(h))
    assert r.status_code == 200, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    issues: list[Any] = r.json()["issue"]
    return issues


def _errors(issues: list[Any]) -> list[Any]:
    return [i for i in issues if i["severity"] in ("error", "fatal")]


async def test_validate_bundle_at_the_type_level(gateway: Harness) -> None:
    """Bundles are not stored, but `POST Bundle/$validate` checks them entry by entry."""
    good = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "resource": patient()}]}
    assert _errors(await _validate(gateway, "Bundle", good)) == []
    bad = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0b",
         "resource": {"resourceType": "Observation", "code": {"text": "x"}}}]}
    errors = _errors(await _validate(gateway, "Bundle", bad))
    expressions = {e for i in errors for e in i.get("expression", [])}
    assert "Bundle.entry[0].resource.status" in expressions, errors
    # The Parameters form of $validate works at the type level too.
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource",
                                                            "resource": bad}]}
    assert _errors(await _validate(gateway, "Bundle", wrapped)) == errors


async def test_validate_operation_outcome_at_the_type_level(gateway: Harness) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "processing", "diagnostics": "upstream said no"}]}
    assert _errors(await _validate(gateway, "OperationOutcome", outcome)) == []
    no_issue = {"resourceType": "OperationOutcome"}  # issue is 1..* in R4
    assert _errors(await _validate(gateway, "OperationOutcome", no_issue)) != []


async def test_validate_type_mismatch_and_unknown_type(gateway: Harness) -> None:
    issues = _errors(await _validate(gateway, "Bundle", patient()))
    assert len(issues) == 1 and issues[0]["expression"] == ["resourceType"], issues
    assert "expected a Bundle resource" in issues[0]["diagnostics"]
    issues = _errors(await _validate(gateway, "OperationOutcome",
                                     {"resourceType": "Bundle", "type": "collection"}))
    assert "expected a OperationOutcome resource" in issues[0]["diagnostics"], issues
    # A type the gateway neither stores nor validates is still not found.
    r = await gateway.client.post("/api/fhir/Basic/$validate", headers=_h(gateway),
                                  json={"resourceType": "Basic"})
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


async def test_mpi_and_fhir_patients_are_one_record(gateway: Harness) -> None:
    mpi = await gateway.create_patient(family="Mutua")
    doc = await gateway.client.get(f"/api/fhir/Patient/{mpi['id']}", headers=_h(gateway))
    assert doc.status_code == 200 and doc.json()["name"][0]["family"] == "Mutua"
    via_fhir = await _create(gateway, patient("MRN-X", "Wekesa"))
    row = await gateway.client.get(f"/api/patients/{via_fhir['id']}",
                                   headers=gateway.auth("clinician"))
    assert row.json()["data"]["family"] == "Wekesa"
    dup = await gateway.client.post("/api/fhir/Patient", json=patient("MRN-X", "Other"),
                                    headers=_h(gateway))
    assert dup.status_code == 409 and dup.json()["issue"][0]["code"] == "duplicate"
    # An MPI update keeps what only the FHIR document knew (the address).
    await gateway.client.put(f"/api/patients/{via_fhir['id']}", json={
        "identifiers": [{"system": "urn:ug:mrn", "value": "MRN-X"}], "family": "Wekesa-Obi"},
        headers=gateway.auth("clinician"))
    doc = (await gateway.client.get(f"/api/fhir/Patient/{via_fhir['id']}",
                                    headers=_h(gateway))).json()
    assert doc["name"][0]["family"] == "Wekesa-Obi" and doc["address"][0]["city"] == "Kampala"
    assert doc["meta"]["versionId"] == "2"
    served = await gateway.client.get(f"/api/mpi/patients/{via_fhir['id']}/fhir",
                                      headers=gateway.auth("clinician"))
    assert served.json()["id"] == via_fhir["id"] and served.headers["x-cari-source"] == "local"


async def test_fhir_access_is_audited_with_the_patient(gateway: Harness) -> None:
    p = await _create(gateway, patient("A-1"))
    obs = await _create(gateway, observation(p["id"]))
    await gateway.client.get(f"/api/fhir/Observation/{obs['id']}",
                             headers=_h(gateway, "clinician"))
    r = await gateway.client.get("/api/admin/audit-events",
                                 params={"patient_id": p["id"], "resource_type": "Observation"},
                                 headers=gateway.auth("admin"))
    actions = [i["action"] for i in r.json()["data"]["items"]]
    assert actions == ["R", "C"]
