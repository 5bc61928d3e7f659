"""Appointment over GraphQL, the same use cases as FHIR REST: create and update mutations,
the typed entity with its patient, the search by patient, status and date."""

from __future__ import annotations

from typing import Any

from tests.support import Harness

CREATE = """mutation($r: JSON!) { createFhirResource(resource: $r) { __typename
  ... on Appointment { id status start participants { actor { reference } status }
                       patient { id family } }
  ... on FhirValidationError { issues { code expression } } } }"""


def appointment(patient_id: str, **changes: Any) -> dict[str, Any]:
    return {"resourceType": "Appointment", "status": "booked",
            "start": "2026-12-10T09:30:00+03:00", "end": "2026-12-10T10:00:00+03:00",
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"},
                             "status": "accepted"},
                            {"actor": {"reference": "Location/room-4", "display": "Room 4"},
                             "status": "accepted"}], **changes}


async def test_create_read_search_and_cancel(gateway: Harness) -> None:
    h = gateway
    patient = await h.create_patient(family="Achieng")
    made = await h.gql(CREATE, {"r": appointment(patient["id"])}, roles=("clinician",))
    assert "errors" not in made, made
    created = made["data"]["createFhirResource"]
    assert created["__typename"] == "Appointment" and created["status"] == "booked"
    assert created["patient"] == {"id": patient["id"], "family": "Achieng"}
    assert created["participants"][1] == {"actor": {"reference": "Location/room-4"},
                                          "status": "accepted"}

    invalid = await h.gql(CREATE, {"r": appointment(patient["id"], start=None, end=None)},
                          roles=("clinician",))
    assert {i["expression"] for i in invalid["data"]["createFhirResource"]["issues"]} == {
        "Appointment.start", "Appointment.end"}

    search = """query($p: String, $s: String) { appointments(patientId: $p, status: $s,
      dateFrom: "2026-12-01", dateTo: "2026-12-31") { total nodes { id start } } }"""
    found = await h.gql(search, {"p": patient["id"], "s": "booked"}, roles=("clinician",))
    assert found["data"]["appointments"]["total"] == 1
    assert found["data"]["appointments"]["nodes"][0]["id"] == created["id"]

    update = """mutation($id: ID!, $r: JSON!) { updateFhirResource(id: $id, resource: $r,
      expectedVersion: 1) { __typename ... on Appointment { status meta { versionId } } } }"""
    cancelled = await h.gql(update, {"id": created["id"], "r": {
        **appointment(patient["id"], status="cancelled"), "id": created["id"]}},
        roles=("clinician",))
    assert cancelled["data"]["updateFhirResource"] == {
        "__typename": "Appointment", "status": "cancelled", "meta": {"versionId": "2"}}
    read = await h.gql('query($id: ID!) { appointment(id: $id) { status cancelationReason '
                       '{ text } } }', {"id": created["id"]}, roles=("clinician",))
    assert read["data"]["appointment"] == {"status": "cancelled", "cancelationReason": None}
    none = await h.gql(search, {"p": patient["id"], "s": "booked"}, roles=("clinician",))
    assert none["data"]["appointments"]["total"] == 0


async def test_appointment_response_is_about_its_patient_actor(gateway: Harness) -> None:
    h = gateway
    patient = await h.create_patient(family="Achieng")
    made = await h.gql(CREATE, {"r": appointment(patient["id"], status="proposed")},
                       roles=("clinician",))
    aid = made["data"]["createFhirResource"]["id"]
    response = {"resourceType": "AppointmentResponse",
                "appointment": {"reference": f"Appointment/{aid}"},
                "actor": {"reference": f"Patient/{patient['id']}"},
                "participantStatus": "accepted", "comment": "by phone"}
    posted = await h.client.post("/api/fhir/AppointmentResponse", json=response,
                                 headers=h.auth("clinician"))
    assert posted.status_code == 201, posted.text
    rid = posted.json()["id"]
    bad = await h.client.post("/api/fhir/AppointmentResponse", json={
        **response, "participantStatus": "maybe"}, headers=h.auth("clinician"))
    assert bad.status_code in (400, 422)
    by_patient = await h.client.get(f"/api/fhir/AppointmentResponse?patient={patient['id']}"
                                    f"&appointment=Appointment/{aid}&part-status=accepted",
                                    headers=h.auth("clinician"))
    assert [e["resource"]["id"] for e in by_patient.json()["entry"]] == [rid]
    audit = await h.client.get("/api/admin/audit-events?resource_type=AppointmentResponse",
                               headers=h.auth("admin"))
    assert {r["patient_id"] for r in audit.json()["data"]["items"]} == {patient["id"]}

    q = """query($a: String) { appointmentResponses(appointmentId: $a) { total nodes {
      id participantStatus comment appointment { reference } patient { id } } } }"""
    found = await h.gql(q, {"a": aid}, roles=("clinician",))
    assert found["data"]["appointmentResponses"] == {"total": 1, "nodes": [{
        "id": rid, "participantStatus": "accepted", "comment": "by phone",
        "appointment": {"reference": f"Appointment/{aid}"}, "patient": {"id": patient["id"]}}]}
