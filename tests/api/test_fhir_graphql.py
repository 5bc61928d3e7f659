"""FHIR resources over GraphQL: typed fields, references via DataLoaders, typed errors."""

from __future__ import annotations

from typing import Any

from tests.api.test_fhir_rest import FHIR, observation, patient
from tests.support import Harness, count_queries


async def _post(h: Harness, resource: dict[str, Any]) -> dict[str, Any]:
    r = await h.client.post(f"/api/fhir/{resource['resourceType']}", json=resource,
                            headers={**h.auth("clinician"), "Content-Type": FHIR})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_observation_fields_and_patient_reference(gateway: Harness) -> None:
    p = await _post(gateway, patient("G-1", "Mensah"))
    o = await _post(gateway, {**observation(p["id"], value=5.4), "interpretation": [
        {"coding": [{"code": "H"}]}], "referenceRange": [{"low": {"value": 3.5}, "high": {
            "value": 5.1}}]})
    q = """query($id: ID!) { observation(id: $id) { id status meta { versionId }
      code { coding { system code } } valueQuantity { value unit } effectiveDateTime
      interpretation { coding { code } } referenceRange { low { value } high { value } }
      subject { reference } patient { id family } } }"""
    body = await gateway.gql(q, {"id": o["id"]}, roles=("clinician",))
    assert "errors" not in body, body
    obs = body["data"]["observation"]
    assert obs["status"] == "final" and obs["valueQuantity"] == {"value": 5.4, "unit": "mmol/L"}
    assert obs["code"]["coding"][0]["code"] == "2823-3"
    assert obs["patient"] == {"id": p["id"], "family": "Mensah"}
    assert obs["referenceRange"][0]["high"]["value"] == 5.1 and obs["meta"]["versionId"] == "1"


async def test_search_with_cursor_pagination(gateway: Harness) -> None:
    p = await _post(gateway, patient("G-2"))
    for day in range(1, 6):
        await _post(gateway, observation(p["id"], when=f"2026-03-0{day}T10:00:00Z"))
    q = """query($p: String, $after: String) { observations(patientId: $p, first: 2,
           after: $after) { total nodes { effectiveDateTime } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = (await gateway.gql(q, {"p": p["id"], "after": after}))["data"]["observations"]
        assert page["total"] == 5
        seen += [n["effectiveDateTime"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen, reverse=True) and len(seen) == 5


async def test_create_mutation_with_typed_validation_errors(gateway: Harness) -> None:
    p = await _post(gateway, patient("G-3"))
    m = """mutation($r: JSON!) { createFhirResource(resource: $r) { __typename
      ... on Observation { id status patient { id } }
      ... on FhirValidationError { issues { severity code expression } } } }"""
    ok = await gateway.gql(m, {"r": observation(p["id"])}, roles=("clinician",))
    assert ok["data"]["createFhirResource"]["__typename"] == "Observation"
    assert ok["data"]["createFhirResource"]["patient"]["id"] == p["id"]
    bad = await gateway.gql(m, {"r": {"resourceType": "Observation", "code": {"text": "x"}}},
                            roles=("clinician",))
    result = bad["data"]["createFhirResource"]
    assert result["__typename"] == "FhirValidationError"
    assert {"Observation.status", "Observation.subject"} <= {i["expression"]
                                                             for i in result["issues"]}
    denied = await gateway.gql(m, {"r": observation(p["id"])}, roles=("billing",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_update_mutation_checks_the_version(gateway: Harness) -> None:
    p = await _post(gateway, patient("G-4"))
    o = await _post(gateway, observation(p["id"]))
    m = """mutation($id: ID!, $r: JSON!, $v: Int) { updateFhirResource(id: $id, resource: $r,
           expectedVersion: $v) { __typename ... on Observation { status meta { versionId } } } }"""
    changed = {**o, "status": "amended"}
    stale = await gateway.gql(m, {"id": o["id"], "r": changed, "v": 7}, roles=("clinician",))
    assert stale["data"]["updateFhirResource"]["__typename"] == "ConflictError"
    ok = await gateway.gql(m, {"id": o["id"], "r": changed, "v": 1}, roles=("clinician",))
    assert ok["data"]["updateFhirResource"] == {"__typename": "Observation", "status": "amended",
                                                "meta": {"versionId": "2"}}


async def test_fifty_observations_with_patients_cost_constant_queries(
    quiet_gateway: Harness,
) -> None:
    h = quiet_gateway
    patients = [await _post(h, patient(f"Q-{i}", f"Family{i}")) for i in range(10)]
    for i in range(50):
        await _post(h, observation(patients[i % 10]["id"], when=f"2026-04-01T10:{i:02d}:00Z"))
    q = """query($n: Int!) { observations(first: $n) { nodes { id status
           patient { id family managingOrganization { name } } } } }"""

    async def run(n: int) -> int:
        with count_queries(*h.engines) as counter:
            body = await h.gql(q, {"n": n}, roles=("clinician",))
        nodes = body["data"]["observations"]["nodes"]
        assert len(nodes) == n and all(node["patient"]["family"] for node in nodes)
        return counter.count

    small, large = await run(5), await run(50)
    assert small == large, f"query count grows with the page: {small} vs {large}"
    assert large <= 8


async def test_report_results_and_entities(gateway: Harness) -> None:
    p = await _post(gateway, patient("G-5"))
    o1 = await _post(gateway, observation(p["id"], code="2823-3"))
    o2 = await _post(gateway, observation(p["id"], code="2951-2"))
    report = await _post(gateway, {
        "resourceType": "DiagnosticReport", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8"}]},
        "subject": {"reference": f"Patient/{p['id']}"},
        "result": [{"reference": f"Observation/{o1['id']}"},
                   {"reference": f"Observation/{o2['id']}"}]})
    q = """query($r: [_Any!]!) { _entities(representations: $r) {
           ... on DiagnosticReport { id results { code { coding { code } } } } } }"""
    body = await gateway.gql(q, {"r": [{"__typename": "DiagnosticReport", "id": report["id"]}]})
    results = body["data"]["_entities"][0]["results"]
    assert [r["code"]["coding"][0]["code"] for r in results] == ["2823-3", "2951-2"]


async def test_fhir_only_details_and_organizations_reach_graphql(gateway: Harness) -> None:
    org = await _post(gateway, {"resourceType": "Organization", "name": "Mulago Hospital",
                                "identifier": [{"system": "urn:ug:hf", "value": "HF-1"}],
                                "address": [{"country": "UG"}]})
    p = await _post(gateway, {**patient("G-6"), "telecom": [{"system": "email", "value": "s@x.ug"}],
                              "managingOrganization": {"reference": f"Organization/{org['id']}"}})
    q = """query($id: ID!) { patient(id: $id) { addresses { city country }
           telecom { system value } managingOrganization { id name country } } }"""
    body = await gateway.gql(q, {"id": p["id"]}, roles=("clinician",))
    found = body["data"]["patient"]
    assert found["addresses"] == [{"city": "Kampala", "country": "UG"}]
    assert found["telecom"] == [{"system": "email", "value": "s@x.ug"}]
    assert found["managingOrganization"] == {"id": org["id"], "name": "Mulago Hospital",
                                             "country": "UG"}
    # And the other way: a directory organization is a FHIR Organization too.
    made = await gateway.client.post("/api/organizations", json={"name": "Kisumu Lab",
                                                                 "kind": "laboratory"},
                                     headers=gateway.auth("integrator"))
    doc = await gateway.client.get(f"/api/fhir/Organization/{made.json()['data']['id']}",
                                   headers={**gateway.auth("integrator"), "Content-Type": FHIR})
    assert doc.status_code == 200 and doc.json()["name"] == "Kisumu Lab"
