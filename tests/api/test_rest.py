"""REST surface: auth, envelopes, status codes, patients and organizations, audit."""

from __future__ import annotations

import pytest

from tests.support import Harness

PATIENT = {"identifiers": [{"system": "urn:gh:ghana-card", "value": "GHA-123456789-0"}],
           "family": "Mensah", "given": ["Ama"], "birth_date": "1995-04-12", "gender": "female",
           "phone": "+233241234567"}


async def test_missing_or_bad_token_is_401_with_www_authenticate(gateway: Harness) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer v4.local.xyz"},
                    {"Authorization": "Bearer garbage"}):
        r = await gateway.client.get("/api/patients", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        body = r.json()
        assert body["success"] is False and body["error"]["code"] == "unauthenticated"


async def test_wrong_role_is_403(gateway: Harness) -> None:
    r = await gateway.client.post("/api/patients", json=PATIENT, headers=gateway.auth("billing"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = await gateway.client.get("/api/admin/audit-events", headers=gateway.auth("clinician"))
    assert r.status_code == 403


async def test_patient_lifecycle(gateway: Harness) -> None:
    c = gateway.client
    created = await c.post("/api/patients", json=PATIENT, headers=gateway.auth("clinician"))
    assert created.status_code == 201
    data = created.json()["data"]
    assert created.headers["location"] == f"/api/patients/{data['id']}"
    assert created.headers["etag"] == 'W/"1"'
    assert data["family"] == "Mensah" and data["identifiers"] == PATIENT["identifiers"]

    read = await c.get(f"/api/patients/{data['id']}", headers=gateway.auth("lab"))
    assert read.status_code == 200 and read.json() == {"success": True, "data": data}

    changed = {**PATIENT, "family": "Mensah-Owusu"}
    stale = await c.put(f"/api/patients/{data['id']}", json=changed,
                        headers={**gateway.auth("clinician"), "If-Match": 'W/"7"'})
    assert stale.status_code == 409
    ok = await c.put(f"/api/patients/{data['id']}", json=changed,
                     headers={**gateway.auth("clinician"), "If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.json()["data"]["version"] == 2
    assert ok.headers["etag"] == 'W/"2"'

    found = await c.get("/api/patients", params={
        "identifier": "urn:gh:ghana-card|GHA-123456789-0"}, headers=gateway.auth("clinician"))
    assert [p["id"] for p in found.json()["data"]["items"]] == [data["id"]]


async def test_duplicate_identifier_is_409_and_nothing_is_stored(gateway: Harness) -> None:
    await gateway.client.post("/api/patients", json=PATIENT, headers=gateway.auth("clinician"))
    again = await gateway.client.post("/api/patients", json={**PATIENT, "family": "Other"},
                                      headers=gateway.auth("clinician"))
    assert again.status_code == 409
    listed = await gateway.client.get("/api/patients", headers=gateway.auth("clinician"))
    assert [p["family"] for p in listed.json()["data"]["items"]] == ["Mensah"]


@pytest.mark.parametrize("body, content_type, status, code", [
    (b"{not json", "application/json", 400, "bad_request"),
    (b'{"family": "x"}', "text/plain", 415, "unsupported_media_type"),
    (b'{"family": 5}', "application/json", 422, "validation_error"),
    (b'{"family": "x", "unexpected": 1}', "application/json", 422, "validation_error"),
    (b'{"given": ["A"], "birth_date": "2999-01-01"}', "application/json", 422, "validation_error"),
    (b'{"family": "x", "organization_id": "nope"}', "application/json", 422, "validation_error"),
    (b'[]', "application/json", 422, "validation_error"),
])
async def test_bad_input_gets_a_clear_error_and_stores_nothing(
    gateway: Harness, body: bytes, content_type: str, status: int, code: str
) -> None:
    r = await gateway.client.post("/api/patients", content=body, headers={
        **gateway.auth("clinician"), "Content-Type": content_type})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    listed = await gateway.client.get("/api/patients", headers=gateway.auth("clinician"))
    assert listed.json()["data"]["items"] == []


async def test_validation_details_name_each_field(gateway: Harness) -> None:
    r = await gateway.client.post("/api/patients", json={
        "family": " ", "gender": "female", "phone": "abc", "birth_date": "2999-01-01",
        "identifiers": [{"system": "urn:x", "value": "1"}, {"system": "urn:x", "value": "1"}]},
        headers=gateway.auth("clinician"))
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert fields == {"family", "phone", "birth_date", "identifiers[1]"}


async def test_body_too_large_is_413(gateway: Harness) -> None:
    r = await gateway.client.post("/api/patients", content=b'{"family":"' + b"a" * 1_100_000 + b'"}',
                                  headers={**gateway.auth("clinician"),
                                           "Content-Type": "application/json"})
    assert r.status_code == 413


async def test_unknown_route_and_method_keep_the_envelope(gateway: Harness) -> None:
    r = await gateway.client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await gateway.client.delete("/api/patients", headers=gateway.auth("admin"))
    assert r.status_code == 405 and r.json()["success"] is False
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_paging_limits_are_validated_and_cursor_pages(gateway: Harness) -> None:
    for _ in range(3):
        await gateway.create_patient()
    bad = await gateway.client.get("/api/patients?limit=0", headers=gateway.auth("clinician"))
    assert bad.status_code == 422
    page = (await gateway.client.get("/api/patients?limit=2",
                                     headers=gateway.auth("clinician"))).json()["data"]
    assert len(page["items"]) == 2 and page["next_cursor"] == page["items"][-1]["id"]
    rest = (await gateway.client.get(f"/api/patients?limit=2&cursor={page['next_cursor']}",
                                     headers=gateway.auth("clinician"))).json()["data"]
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_request_id_is_echoed_or_generated(gateway: Harness) -> None:
    r = await gateway.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await gateway.client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces" and len(r.headers["x-request-id"]) == 36
    r = await gateway.client.get("/api/patients")
    assert r.headers["x-request-id"]


async def test_every_patient_access_is_audited_with_request_id(gateway: Harness) -> None:
    p = await gateway.create_patient()
    await gateway.client.get(f"/api/patients/{p['id']}", headers={
        **gateway.auth("lab", sub="lab-7"), "X-Request-ID": "req-lab-7", "X-Purpose-Of-Use": "TREAT"})
    await gateway.client.get("/api/patients/missing", headers=gateway.auth("lab", sub="lab-7"))
    await gateway.client.get(f"/api/patients/{p['id']}", headers=gateway.auth("billing", sub="b"))
    r = await gateway.client.get("/api/admin/audit-events", params={"patient_id": p["id"]},
                                 headers=gateway.auth("admin"))
    items = r.json()["data"]["items"]
    assert [(i["subject"], i["action"], i["outcome"]) for i in items] == [
        ("b", "R", "success"), ("lab-7", "R", "success"), ("tester", "C", "success")]
    lab = items[1]
    assert lab["request_id"] == "req-lab-7" and lab["purpose"] == "TREAT"
    assert lab["roles"] == ["lab"] and lab["surface"] == "rest"
    denied = await gateway.client.get("/api/admin/audit-events", params={"outcome": "not_found"},
                                      headers=gateway.auth("admin"))
    assert [i["resource_id"] for i in denied.json()["data"]["items"]] == ["missing"]
    bad = await gateway.client.get("/api/admin/audit-events?action=X&since=yesterday",
                                   headers=gateway.auth("admin"))
    assert bad.status_code == 422


async def test_denied_patient_access_is_audited(gateway: Harness) -> None:
    r = await gateway.client.get("/api/patients/p-1", headers=gateway.auth(sub="nobody"))
    assert r.status_code == 403
    audit = await gateway.client.get("/api/admin/audit-events?outcome=denied",
                                     headers=gateway.auth("admin"))
    (item,) = audit.json()["data"]["items"]
    assert item["subject"] == "nobody" and item["resource_id"] == "p-1"


async def test_organizations(gateway: Harness) -> None:
    r = await gateway.client.post("/api/organizations", json={
        "name": "Korle Bu Teaching Hospital", "country": "gh", "kind": "facility"},
        headers=gateway.auth("integrator"))
    assert r.status_code == 201
    org = r.json()["data"]
    assert org["country"] == "GH"
    patient = await gateway.create_patient(organization_id=org["id"])
    assert patient["organization_id"] == org["id"]
    listed = await gateway.client.get("/api/organizations?name=korle",
                                      headers=gateway.auth("billing"))
    assert [o["id"] for o in listed.json()["data"]["items"]] == [org["id"]]
    assert (await gateway.client.get("/api/organizations/none",
                                     headers=gateway.auth("lab"))).status_code == 404
    assert (await gateway.client.post("/api/organizations", json={"name": "X"},
                                      headers=gateway.auth("clinician"))).status_code == 403


async def test_fhir_routes_answer_operation_outcome(gateway: Harness) -> None:
    r = await gateway.client.get("/api/fhir/Patient/123/_history/1/extra")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found" and body["issue"][0]["severity"] == "error"


@pytest.mark.db
async def test_patient_round_trip_on_each_database(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    created = await h.create_patient(birth_date="2001-09-30", gender="male")
    read = await h.client.get(f"/api/patients/{created['id']}", headers=h.auth("clinician"))
    assert read.json()["data"] == created
    body = await h.gql("query($p: String) { auditEvents(patientId: $p, action: READ) "
                       "{ nodes { subject surface outcome } } }", {"p": created["id"]})
    assert body["data"]["auditEvents"]["nodes"] == [
        {"subject": "tester", "surface": "rest", "outcome": "success"}]
