"""GET /cds-services: public, the documented shape plus the ordering hooks and the lab
service; CORS for the CDS paths only, from CARI_CDS_CORS_ORIGINS."""

from __future__ import annotations

from tests.support import Harness

DOCUMENTED = {"hook": "patient-view", "title": "Drug Interaction Check",
              "description": "Checks for drug-drug interactions", "id": "drug-interaction-check"}
MEDICATIONS = "MedicationRequest?patient={{context.patientId}}&status=active"


async def test_discovery_is_public_and_lists_the_documented_service(cds: Harness) -> None:
    response = await cds.client.get("/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    documented = services[0]
    assert {k: documented[k] for k in DOCUMENTED} == DOCUMENTED
    assert documented["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert documented["prefetch"]["medications"] == MEDICATIONS
    hooks = {(s["id"], s["hook"]) for s in services}
    assert hooks == {("drug-interaction-check", "patient-view"),
                     ("drug-interaction-check", "order-select"),
                     ("drug-interaction-check", "order-sign"),
                     ("lab-critical-values", "patient-view")}
    for service in services:  # the JSON rule: nothing empty
        assert all(v not in (None, "", [], {}) for v in service.values())
        assert service["description"]


async def test_discovery_stays_public_with_any_bearer(cds: Harness) -> None:
    for header in ("Bearer not-a-token", "Bearer a.b.c", f"Bearer {cds.token('clinician')}"):
        response = await cds.client.get("/cds-services", headers={"Authorization": header})
        assert response.status_code == 200
        assert response.json()["services"]


async def test_preflight_from_an_allowed_origin(cds: Harness) -> None:
    response = await cds.client.options("/cds-services/drug-interaction-check", headers={
        "Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://ehr.example.org"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_preflight_from_another_origin_is_refused(cds: Harness) -> None:
    response = await cds.client.options("/cds-hooks/drug-interaction-check", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_simple_request_carries_the_allowed_origin_only(cds: Harness) -> None:
    allowed = await cds.client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://ehr.example.org"
    other = await cds.client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    # Outside the CDS paths the CDS origins mean nothing.
    elsewhere = await cds.client.get("/healthz", headers={"Origin": "https://ehr.example.org"})
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_a_browser_call_from_an_allowed_origin_can_read_the_cards(cds: Harness) -> None:
    preflight = await cds.client.options("/cds-hooks/drug-interaction-check/feedback", headers={
        "Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    body = {"hookInstance": "h-cors", "hook": "patient-view",
            "context": {"patientId": "p-1", "medications": []}}
    answer = await cds.client.post("/cds-services/drug-interaction-check", json=body, headers={
        **cds.auth("clinician"), "Origin": "https://ehr.example.org"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://ehr.example.org"
    refused = await cds.client.post("/cds-services/drug-interaction-check", json=body,
                                    headers={"Origin": "https://ehr.example.org"})
    assert refused.status_code == 401  # the browser can read why, too
    assert refused.headers["access-control-allow-origin"] == "https://ehr.example.org"
