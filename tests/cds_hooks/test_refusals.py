"""Bad requests name their field (400, an OperationOutcome with the field as expression);
unknown service 404; a hook the service does not serve 400; no or a bad PASETO 401; a role
that may not call 403 (audited as denied)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_route_auth_before_body import BAD_BODY, BAD_HEADERS
from tests.asgi_probe import probe
from tests.cds_hooks.support import draft, order_hook, outcome_field, patient_view
from tests.support import Harness

PATH = "/cds-services/drug-interaction-check"


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


CASES = [
    ("hookInstance", lambda: _without(patient_view(medications=[]), "hookInstance")),
    ("hook", lambda: _without(patient_view(medications=[]), "hook")),
    ("context", lambda: _without(patient_view(medications=[]), "context")),
    ("context.patientId", lambda: _without(patient_view(medications=[]), "context",
                                           "patientId")),
    ("context.patientId", lambda: patient_view("p-1,p-2", medications=[])),
    ("context.patientId", lambda: patient_view("Patient/p-1", medications=[])),
    ("context.userId", lambda: {**patient_view(medications=[]), "context": {
        "patientId": "p-1", "userId": "Device/d-1"}}),
    ("context.medications", lambda: {**patient_view(), "context": {
        "patientId": "p-1", "medications": "rifampicin"}}),
    ("context.draftOrders", lambda: _without(order_hook("order-sign", [draft("m", "x")]),
                                             "context", "draftOrders")),
    ("context.draftOrders", lambda: {**order_hook("order-sign", []), "context": {
        "patientId": "p-1", "draftOrders": {"resourceType": "MedicationRequest"}}}),
    ("context.selections", lambda: order_hook("order-select", [draft("m", "x")])),
    ("context.selections", lambda: order_hook("order-select", [draft("m", "x")],
                                              selections=[])),
    ("context.selections", lambda: order_hook("order-select", [draft("m", "x")],
                                              selections=["MedicationRequest/other"])),
    ("context.userId", lambda: order_hook("order-sign", [draft("m", "x")],
                                          userId="Patient/p-1")),
    ("fhirServer", lambda: patient_view(medications=[], fhirAuthorization={
        "access_token": "t", "token_type": "Bearer", "scope": "patient/*.read",
        "subject": "cari", "expires_in": 300})),
    ("fhirAuthorization.token_type", lambda: patient_view(
        medications=[], fhirServer="https://ehr.example.org/fhir", fhirAuthorization={
            "access_token": "t", "token_type": "MAC", "scope": "s", "subject": "c"})),
    ("fhirServer", lambda: patient_view(medications=[], fhirServer="ftp://x")),
    ("prefetch", lambda: patient_view(medications=[], prefetch=["x"])),
    ("hook", lambda: {**patient_view(medications=[]), "hook": "order-dispatch"}),
    ("hook", lambda: {**patient_view(medications=[]), "hook": 7}),
]


@pytest.mark.parametrize(("field", "make"), CASES,
                         ids=[f"{n}-{c[0]}" for n, c in enumerate(CASES)])
async def test_bad_request_names_the_field(cds: Harness, field: str, make: Any) -> None:
    response = await cds.client.post(PATH, json=make(), headers=cds.auth("clinician"))
    assert response.status_code == 400, response.text
    assert outcome_field(response) == field


async def test_body_that_is_not_json(cds: Harness) -> None:
    response = await cds.client.post(PATH, content=b"{not json", headers={
        **cds.auth("clinician"), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    wrong_type = await cds.client.post(PATH, content=b"{}", headers={
        **cds.auth("clinician"), "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415


async def test_documented_liberties_user_id_may_be_absent(cds: Harness) -> None:
    body = {"hookInstance": "uuid", "hook": "patient-view",
            "context": {"patientId": "patient-uuid", "medications": []}}
    response = await cds.client.post("/cds-hooks/drug-interaction-check", json=body,
                                     headers=cds.auth("clinician"))
    assert response.status_code == 200 and response.json() == {"cards": []}


@pytest.mark.parametrize("path", ["/cds-services/no-such-service", "/cds-hooks/nope"])
async def test_unknown_service_is_404(cds: Harness, path: str) -> None:
    response = await cds.client.post(path, json=patient_view(medications=[]),
                                     headers=cds.auth("clinician"))
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_a_hook_the_service_does_not_serve(cds: Harness) -> None:
    body = order_hook("order-sign", [draft("mr-1", "rifampicin")], medications=[])
    response = await cds.client.post("/cds-services/lab-critical-values", json=body,
                                     headers=cds.auth("clinician"))
    assert response.status_code == 400 and outcome_field(response) == "hook"
    assert "patient-view" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz",
                                    "Bearer v4.public.forged", "Bearer not-a-jwt"])
async def test_missing_or_invalid_bearer_is_401(cds: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await cds.client.post(PATH, json=patient_view(medications=["rifampicin"]),
                                     headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_a_role_that_may_not_call_is_403_and_audited(cds: Harness) -> None:
    response = await cds.client.post(PATH, json=patient_view("p-denied", medications=[]),
                                     headers=cds.auth("billing", sub="clerk"))
    assert response.status_code == 403
    events = (await cds.client.get("/api/admin/audit-events?patient_id=p-denied",
                                   headers=cds.auth("admin"))).json()["data"]["items"]
    assert [(e["resource_type"], e["subject"], e["outcome"]) for e in events] == [
        ("CdsService", "clerk", "denied")]


async def test_a_smart_app_token_is_refused(cds: Harness) -> None:
    token = cds.issuer.issue("app-user", ["clinician"], ["patient/*.read"],
                             extra={"smart": {"client_id": "app-1", "patient": "p-1"},
                                    "jti": "smart-1"})
    response = await cds.client.post(PATH, json=patient_view("p-1", medications=[]),
                                     headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "SMART" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("path", [
    "/cds-services/drug-interaction-check", "/cds-hooks/drug-interaction-check",
    "/cds-services/drug-interaction-check/feedback", "/cds-hooks/lab-critical-values/feedback"])
async def test_no_token_is_401_before_the_body(cds: Harness, path: str) -> None:
    result = await probe(cds.app, "POST", path, headers=BAD_HEADERS, chunks=BAD_BODY)
    assert result.status == 401 and result.bytes_read == 0
    assert "www-authenticate" in result.headers
    assert result.json()["resourceType"] == "OperationOutcome"
