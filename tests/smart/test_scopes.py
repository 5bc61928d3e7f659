"""SMART scopes at every FHIR interaction: v1 and v2, patient compartment, ?category=,
history, $validate, transaction entry by entry (rolled back and audited), batch."""

from __future__ import annotations

from typing import Any

import pytest

from tests.smart.support import FHIR, observation, patient_with_observation, register
from tests.smart.test_refusals import _authorize, _exchange, _pkce
from tests.support import Harness

FHIR_JSON = {"Content-Type": "application/fhir+json"}
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


async def _token(h: Harness, patient: str, scope: str) -> dict[str, str]:
    app = await register(h, scopes=["launch/patient", *scope.split()])
    verifier, challenge = _pkce()
    status, query, body = await _authorize(h, app["client_id"], challenge, patient=patient,
                                           scope=f"launch/patient {scope}")
    assert status == 302 and "code" in query, (query, body)
    status, token = await _exchange(h, app["client_id"], query["code"][0], verifier)
    assert status == 200, token
    return {"Authorization": f"Bearer {token['access_token']}", **FHIR_JSON}


@pytest.mark.db
async def test_v1_write_scope_confined_to_the_patient(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    mine, my_obs = await patient_with_observation(h, "Akinyi")
    other, other_obs = await patient_with_observation(h, "Baraka")
    bearer = await _token(h, mine, "patient/Observation.write")
    created = await h.client.post(f"{FHIR}/Observation", json=observation(mine), headers=bearer)
    assert created.status_code == 201, created.text
    elsewhere = await h.client.post(f"{FHIR}/Observation", json=observation(other),
                                    headers=bearer)
    assert elsewhere.status_code == 403
    # write is c, u, d: no read, search or history.
    assert (await h.client.get(f"{FHIR}/Observation/{my_obs}", headers=bearer)).status_code == 403
    assert (await h.client.get(f"{FHIR}/Observation/{my_obs}/_history",
                               headers=bearer)).status_code == 403
    assert (await h.client.delete(f"{FHIR}/Observation/{other_obs}",
                                  headers=bearer)).status_code == 403
    assert (await h.client.delete(f"{FHIR}/Observation/{my_obs}",
                                  headers=bearer)).status_code == 204
    moved = {**observation(other), "id": created.json()["id"]}
    put = await h.client.put(f"{FHIR}/Observation/{created.json()['id']}", json=moved,
                             headers=bearer)
    assert put.status_code == 403  # may not move a resource out of its patient


@pytest.mark.db
async def test_transaction_entry_by_entry(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    mine, my_obs = await patient_with_observation(h, "Chege")
    other, other_obs = await patient_with_observation(h, "Doyo")
    bearer = await _token(h, mine, "patient/Observation.cruds")

    def bundle(*entries: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}

    ok = await h.client.post(FHIR, json=bundle(
        {"request": {"method": "POST", "url": "Observation"}, "resource": observation(mine)},
        {"request": {"method": "GET", "url": f"Observation/{my_obs}"}}), headers=bearer)
    assert ok.status_code == 200, ok.text
    before = (await h.client.get(f"{FHIR}/Observation?patient=Patient/{mine}",
                                 headers=h.auth("clinician"))).json()["total"]
    refused = await h.client.post(FHIR, json=bundle(
        {"request": {"method": "POST", "url": "Observation"}, "resource": observation(mine)},
        {"request": {"method": "GET", "url": f"Observation/{other_obs}"}}), headers=bearer)
    assert refused.status_code == 403, refused.text
    assert "entry 1" in refused.json()["issue"][0]["diagnostics"]
    after = (await h.client.get(f"{FHIR}/Observation?patient=Patient/{mine}",
                                headers=h.auth("clinician"))).json()["total"]
    assert after == before  # all or nothing: the first entry was rolled back
    denied = (await h.client.get("/api/admin/audit-events", params={
        "patient_id": other, "outcome": "denied"}, headers=h.auth("admin"))).json()["data"]
    assert any("smart_app=" in r["purpose"] for r in denied["items"])
    # A batch judges each entry on its own.
    batch = await h.client.post(FHIR, json={"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Observation/{my_obs}"}},
        {"request": {"method": "GET", "url": f"Observation/{other_obs}"}}]}, headers=bearer)
    statuses = [e["response"]["status"] for e in batch.json()["entry"]]
    assert statuses[0].startswith("200") and statuses[1].startswith("403")


async def test_category_restriction_v2(gateway: Harness) -> None:
    h = gateway
    mine, lab_obs = await patient_with_observation(h, "Ekai", category="laboratory")
    vital = await h.client.post(f"{FHIR}/Observation",
                                json=observation(mine, code="8867-4", category="vital-signs"),
                                headers={**h.auth("clinician"), **FHIR_JSON})
    vital_id = vital.json()["id"]
    bearer = await _token(h, mine, f"patient/Observation.rs?category={CATEGORY}|laboratory")
    assert (await h.client.get(f"{FHIR}/Observation/{lab_obs}", headers=bearer)).status_code == 200
    assert (await h.client.get(f"{FHIR}/Observation/{vital_id}",
                               headers=bearer)).status_code == 403
    found = (await h.client.get(f"{FHIR}/Observation", headers=bearer)).json()
    assert {e["resource"]["id"] for e in found.get("entry", [])} == {lab_obs}


async def test_validate_and_types_outside_the_scopes(gateway: Harness) -> None:
    h = gateway
    mine, _ = await patient_with_observation(h, "Faraji")
    read_only = await _token(h, mine, "patient/Observation.rs")
    validate = await h.client.post(f"{FHIR}/Observation/$validate", json=observation(mine),
                                   headers=read_only)
    assert validate.status_code == 403
    assert (await h.client.get(f"{FHIR}/Encounter", headers=read_only)).status_code == 403
    writer = await _token(h, mine, "patient/Observation.cu")
    validate = await h.client.post(f"{FHIR}/Observation/$validate", json=observation(mine),
                                   headers=writer)
    assert validate.status_code == 200
    # The platform's own tokens are judged as before: no SMART scopes needed.
    plain = await h.client.get(f"{FHIR}/Encounter", headers=h.auth("clinician"))
    assert plain.status_code == 200
