"""HL7v2 ORU^R01 ingest over REST: matching, storage, duplicates, corrections, alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.settings.labs import LabSettings
from tests.hl7v2 import messages
from tests.support import Harness, make_settings, running_app

NATID = "urn:oid:1.3.6.1.4.1.9999.1"
WORKED_EXAMPLE = messages.WORKED_EXAMPLE + "\r"  # the standards digest's example


def _text(h: Harness, *roles: str) -> dict[str, str]:
    return {**h.auth(*(roles or ("lab",))), "Content-Type": "text/plain"}


async def _ingest(h: Harness, message: str, *roles: str) -> Any:
    return await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                               headers=_text(h, *roles))


async def _known_patient(h: Harness) -> dict[str, Any]:
    return await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                                  family="Odhiambo", given=["Grace"], birth_date="1985-04-12",
                                  gender="female")


async def test_worked_example_is_matched_stored_and_alerted(gateway: Harness) -> None:
    patient = await _known_patient(gateway)
    r = await _ingest(gateway, WORKED_EXAMPLE)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["patient_matched"] is True and data["patient_id"] == patient["id"]
    assert data["observations_created"] == 2

    results = await gateway.client.get(f"/api/patients/{patient['id']}/lab-results",
                                       headers=gateway.auth("clinician"))
    items = {i["code"]: i for i in results.json()["data"]["items"]}
    assert items["2823-3"]["numeric_value"] == 6.9 and items["2823-3"]["interpretation"] == ["HH"]
    assert items["33762-6"]["value"] == ">900"
    potassium = await gateway.client.get(f"/api/fhir/Observation/{items['2823-3']['id']}",
                                         headers=gateway.auth("clinician"))
    assert potassium.json()["note"] == [{"text": "Not hemolysed\nWard called 08:27; ref A&E"}]
    reports = await gateway.client.get(f"/api/fhir/DiagnosticReport?patient={patient['id']}",
                                       headers=gateway.auth("clinician"))
    assert reports.json()["total"] == 1

    alerts = (await gateway.client.get(f"/api/lab/alerts?patient_id={patient['id']}",
                                       headers=gateway.auth("clinician"))).json()["data"]["items"]
    assert [(a["code"], a["direction"]) for a in alerts] == [("2823-3", "high")]
    outbox = await gateway.client.get("/api/admin/outbox?destination=lab_alerts",
                                      headers=gateway.auth("admin"))
    assert len(outbox.json()["data"]["items"]) == 1


async def test_same_message_twice_returns_the_first_result(gateway: Harness) -> None:
    await _known_patient(gateway)
    first = (await _ingest(gateway, WORKED_EXAMPLE)).json()["data"]
    again = (await _ingest(gateway, WORKED_EXAMPLE)).json()["data"]
    assert again == first
    search = await gateway.client.get("/api/fhir/Observation", headers=gateway.auth("clinician"))
    assert search.json()["total"] == 2


async def test_unknown_patient_gets_a_provisional_patient_and_is_never_dropped(
    gateway: Harness,
) -> None:
    r = await _ingest(gateway, WORKED_EXAMPLE)
    data = r.json()["data"]
    assert r.status_code == 200, r.text
    assert data["patient_matched"] is False and data["match_grade"] == "new"
    assert data["patient_id"] and data["observations_created"] == 2
    again = (await _ingest(gateway, WORKED_EXAMPLE)).json()["data"]
    assert again["lab_result_id"] == data["lab_result_id"]  # a repeat creates nothing
    patients = await gateway.client.get("/api/patients", headers=gateway.auth("clinician"))
    assert [p["id"] for p in patients.json()["data"]["items"]] == [data["patient_id"]]


async def test_unknown_patient_is_held_unmatched_when_provisional_patients_are_off(
    tmp_path: Path, sqlite_url: str,
) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url,
                             labs=LabSettings(provisional_patients=False))
    async with running_app(settings) as h:
        data = (await _ingest(h, WORKED_EXAMPLE)).json()["data"]
        assert data["patient_matched"] is False and data["patient_id"] is None
        assert data["observations_created"] == 0 and data["lab_result_id"]
        # The critical potassium still raises an alert, although nobody is linked yet.
        alerts = (await h.client.get("/api/lab/alerts", headers=h.auth("clinician"))
                  ).json()["data"]["items"]
        assert [(a["code"], a["patient_id"]) for a in alerts] == [("2823-3", None)]


async def test_corrected_result_replaces_the_original(gateway: Harness) -> None:
    patient = await _known_patient(gateway)
    await _ingest(gateway, WORKED_EXAMPLE)
    corrected = (WORKED_EXAMPLE.replace("LAB000123", "LAB000124")
                 .replace("||6.9|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|", "||5.0|mmol/L^mmol/L^UCUM|"
                          "3.5-5.1|N|||C|"))
    r = await _ingest(gateway, corrected)
    assert r.status_code == 200
    items = (await gateway.client.get(
        f"/api/patients/{patient['id']}/lab-results?code=2823-3",
        headers=gateway.auth("clinician"))).json()["data"]["items"]
    assert len(items) == 1
    assert (items[0]["numeric_value"], items[0]["status"], items[0]["version"]) == (
        5.0, "corrected", 2)


@pytest.mark.parametrize("body, content_type, status, code", [
    (WORKED_EXAMPLE.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01"), "text/plain", 422,
     "unsupported_message"),
    ("PID|1||X\r", "text/plain", 400, "bad_request"),
    ("", "text/plain", 400, "bad_request"),
    (WORKED_EXAMPLE, "application/json", 415, "unsupported_media_type"),
])
async def test_bad_messages_are_refused_and_nothing_is_stored(
    gateway: Harness, body: str, content_type: str, status: int, code: str,
) -> None:
    r = await gateway.client.post("/api/lab/hl7-ingest", content=body.encode(), headers={
        **gateway.auth("lab"), "Content-Type": content_type})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    if code == "unsupported_message":
        assert "ADT^A01" in r.json()["error"]["message"]
    search = await gateway.client.get("/api/fhir/Observation", headers=gateway.auth("clinician"))
    assert search.json()["total"] == 0


async def test_roles_and_clinical_ingest_links_the_encounter(gateway: Harness) -> None:
    assert (await _ingest(gateway, WORKED_EXAMPLE, "clinician")).status_code == 403
    patient = await _known_patient(gateway)
    encounter = await gateway.client.post("/api/fhir/Encounter", json={
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient['id']}"}},
        headers={**gateway.auth("clinician"), "Content-Type": "application/fhir+json"})
    eid = encounter.json()["id"]
    r = await gateway.client.post(f"/api/clinical/hl7/ingest?encounter_id={eid}",
                                  content=WORKED_EXAMPLE.encode(),
                                  headers=_text(gateway, "clinician"))
    assert r.status_code == 200 and r.json()["data"]["patient_matched"] is True
    linked = await gateway.client.get(f"/api/fhir/Observation?encounter=Encounter/{eid}",
                                      headers=gateway.auth("clinician"))
    assert linked.json()["total"] == 2
    unknown = await gateway.client.post("/api/clinical/hl7/ingest?encounter_id=nope",
                                        content=WORKED_EXAMPLE.replace("LAB000123", "X").encode(),
                                        headers=_text(gateway, "clinician"))
    assert unknown.status_code == 422


async def test_panic_value_check(gateway: Harness) -> None:
    r = await gateway.client.post("/api/cds/panic-values/check", json={"observations": [
        {"code": "2823-3", "value": 6.9, "unit": "mmol/L"},
        {"code": "718-7", "value": 12.5, "unit": "g/dL"},
        {"code": "1234-5", "flags": ["LL"]}]}, headers=gateway.auth("clinician"))
    data = r.json()["data"]
    assert [f["critical"] for f in data["results"]] == [True, False, True]
    assert data["critical_count"] == 2 and data["results"][0]["source"]
    audit = (await gateway.client.get("/api/admin/audit-events?resource_type=PanicValueCheck",
                                      headers=gateway.auth("admin"))).json()["data"]["items"]
    assert [(a["action"], a["outcome"]) for a in audit] == [("E", "success")]


async def test_pdqm_match_returns_graded_candidates(gateway: Harness) -> None:
    patient = await _known_patient(gateway)
    await gateway.create_patient(family="Mensah", given=["Kofi"], birth_date="1970-01-01",
                                 gender="male")
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient",
                                          "name": [{"family": "Odhiambo", "given": ["Grace"]}],
                                          "gender": "female", "birthDate": "1985-04-12",
                                          "identifier": [{"system": NATID, "value": "NID9988"}]}},
        {"name": "onlyCertainMatches", "valueBoolean": True}, {"name": "count", "valueInteger": 3}]}
    r = await gateway.client.post("/api/fhir/Patient/$match", json=body, headers={
        **gateway.auth("clinician"), "Content-Type": "application/fhir+json"})
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 1
    entry = bundle["entry"][0]
    assert entry["resource"]["id"] == patient["id"] and entry["search"]["mode"] == "match"
    assert entry["search"]["extension"][0]["valueCode"] == "certain"
    assert 0 < entry["search"]["score"] <= 1
    typo = {"resourceType": "Patient", "name": [{"family": "Odiambo", "given": ["Grace"]}],
            "gender": "female", "birthDate": "1985-12-04"}
    r = await gateway.client.post("/api/fhir/Patient/$match", json=typo, headers={
        **gateway.auth("clinician"), "Content-Type": "application/fhir+json"})
    found = r.json()["entry"]
    assert found and found[0]["resource"]["id"] == patient["id"]
    assert found[0]["search"]["extension"][0]["valueCode"] in ("probable", "possible", "certain")
    bad = await gateway.client.post("/api/fhir/Patient/$match", json={"resourceType": "Parameters"},
                                    headers={**gateway.auth("clinician"),
                                             "Content-Type": "application/fhir+json"})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


@pytest.mark.db
async def test_same_message_sent_ten_times_at_once_is_stored_once(
    gateway_any_db: Harness,
) -> None:
    import asyncio

    h = gateway_any_db
    await _known_patient(h)
    answers = await asyncio.gather(*(_ingest(h, WORKED_EXAMPLE) for _ in range(10)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["data"]["lab_result_id"] for a in answers}) == 1
    search = await h.client.get("/api/fhir/Observation", headers=h.auth("clinician"))
    assert search.json()["total"] == 2


@pytest.mark.db
async def test_a_repeated_obx_is_one_observation_the_later_one_wins(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    patient = await _known_patient(h)
    repeated = WORKED_EXAMPLE + ("OBX|1|NM|2823-3^Potassium SerPl-sCnc^LN||7.2|mmol/L^mmol/L^UCUM|"
                                 "3.5-5.1|HH|||F|||20260115071500\r")
    first = await _ingest(h, repeated)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["observations_created"] == 2
    items = (await h.client.get(f"/api/patients/{patient['id']}/lab-results?code=2823-3",
                                headers=h.auth("clinician"))).json()["data"]["items"]
    assert [(i["numeric_value"], i["version"]) for i in items] == [(7.2, 1)]
    # The laboratory sends it again under a new control id: the same results, updated.
    again = await _ingest(h, repeated.replace("LAB000123", "LAB000999"))
    assert again.status_code == 200, again.text
    items = (await h.client.get(f"/api/patients/{patient['id']}/lab-results?code=2823-3",
                                headers=h.auth("clinician"))).json()["data"]["items"]
    assert [(i["numeric_value"], i["version"]) for i in items] == [(7.2, 3)]
