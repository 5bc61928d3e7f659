"""The request scenarios http_throughput measures, each checked once before it is loaded.

``SCENARIOS[name](gateway, fixtures)`` makes the request (after a sanity call whose answer is
verified); ``fixtures(gateway)`` creates the tokens, organization and patient they use.
"""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

from benchmarks._loadgen import Request
from benchmarks._support import HOST, GatewayProcess, cli, request
from benchmarks.read_scenarios import READ_SCENARIOS, READ_TITLES

PATIENT_QUERY = ("query BenchPatient($id: ID!) { patient(id: $id) { "
                 "id family given managingOrganization { name } } }")
ORG_NAME = "Bench District Hospital"


# ------------------------------------------------------------------ small HTTP helpers


def _call(port: int, method: str, path: str, body: Any = None,
          token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return request(port, method, path, json.dumps(body).encode() if body is not None else None,
                   headers)


def _expect(status: int, body: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        raise RuntimeError(f"{what}: expected HTTP {wanted}, got {status}: {str(body)[:1000]}")
    return body


# ------------------------------------------------------------------ scenarios


def fixtures(gateway: GatewayProcess) -> dict[str, str]:
    """Tokens from the CLI (same data dir, so same key), one organization, one patient."""
    admin = cli(gateway.env, "token", "--sub", "bench", "--roles", "admin")
    clinician = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
    org = _expect(*_call(gateway.port, "POST", "/api/organizations", {"name": ORG_NAME}, admin),
                  201, "POST /api/organizations")["data"]
    patient = _expect(*_call(gateway.port, "POST", "/api/patients", {
        "identifiers": [{"system": "urn:bench", "value": "1"}], "family": "Bench",
        "given": ["A"], "organization_id": org["id"]}, clinician), 201, "POST /api/patients")
    return {"admin": admin, "clinician": clinician, "organization_id": org["id"],
            "patient_id": patient["data"]["id"]}


def _healthz(gateway: GatewayProcess, _fx: dict[str, str]) -> Request:
    body = _expect(*_call(gateway.port, "GET", "/healthz"), 200, "GET /healthz")
    if body != {"status": "ok"}:
        raise RuntimeError(f"GET /healthz answered {body!r}")
    return Request(url=gateway.base_url + "/healthz")


def _graphql_patient(gateway: GatewayProcess, fx: dict[str, str]) -> Request:
    payload = {"query": PATIENT_QUERY, "variables": {"id": fx["patient_id"]},
               "operationName": "BenchPatient"}
    body = _expect(*_call(gateway.port, "POST", "/graphql", payload, fx["clinician"]), 200,
                   "POST /graphql")
    patient = (body.get("data") or {}).get("patient") or {}
    if body.get("errors") or patient.get("id") != fx["patient_id"] or \
            (patient.get("managingOrganization") or {}).get("name") != ORG_NAME:
        raise RuntimeError(f"the GraphQL patient query answered {json.dumps(body)[:1000]}")
    return Request(url=gateway.base_url + "/graphql", method="POST",
                   headers={"Content-Type": "application/json",
                            "Authorization": f"Bearer {fx['clinician']}"},
                   body=json.dumps(payload))


def _fhir_create(gateway: GatewayProcess, fx: dict[str, str]) -> Request:
    """POST /api/fhir/Observation: validation, versioned store, index, audit (and outbox)."""
    resource = {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
                "subject": {"reference": f"Patient/{fx['patient_id']}"},
                "effectiveDateTime": "2026-01-10T08:00:00Z",
                "valueQuantity": {"value": 4.1, "unit": "mmol/L",
                                  "system": "http://unitsofmeasure.org", "code": "mmol/L"}}
    headers = {"Content-Type": "application/fhir+json",
               "Authorization": f"Bearer {fx['clinician']}", "Prefer": "return=minimal"}
    status, body = _call(gateway.port, "POST", "/api/fhir/Observation", resource,
                         fx["clinician"])
    _expect(status, body, 201, "POST /api/fhir/Observation")
    return Request(url=gateway.base_url + "/api/fhir/Observation", method="POST",
                   headers=headers, body=json.dumps(resource))


# A basic metabolic panel with everyday (non-critical) values: code, value, unit, range.
PANEL = [("2823-3", "4.1", "mmol/L", "3.5-5.1"), ("2951-2", "139", "mmol/L", "136-145"),
         ("2075-0", "102", "mmol/L", "98-107"), ("1963-8", "24", "mmol/L", "22-29"),
         ("3094-0", "14", "mg/dL", "7-20"), ("2160-0", "0.9", "mg/dL", "0.6-1.2"),
         ("2345-7", "5.2", "mmol/L", "3.9-5.6"), ("17861-6", "9.4", "mg/dL", "8.6-10.3"),
         ("2777-1", "3.5", "mg/dL", "2.5-4.5"), ("2601-3", "2.0", "mg/dL", "1.7-2.2")]


def _hl7_message(observations: int) -> str:
    segments = [
        "MSH|^~\\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||"
        "ORU^R01^ORU_R01|MSGIDTOKEN|P|2.5",
        "PID|1||1^^^BENCH&urn:bench&URI^MR||BENCH^A||19850412|F",  # the fixture patient
        "OBR|1|PLC1|FIL-MSGIDTOKEN|24323-8^Metabolic panel^LN|||20260115071500|||||||||||||||"
        "20260115082500|||F"]
    for i in range(observations):
        code, value, unit, ref = PANEL[i % len(PANEL)]
        segments.append(f"OBX|{i + 1}|NM|{code}^Analyte {i}^LN|{i // len(PANEL)}|{value}|"
                        f"{unit}^{unit}^UCUM|{ref}|N|||F|||20260115071500")
    return "\r".join(segments) + "\r"


def _hl7_ingest(observations: int) -> Any:
    def scenario(gateway: GatewayProcess, fx: dict[str, str]) -> Request:
        lab = cli(gateway.env, "token", "--sub", "bench-lab", "--roles", "lab")
        message = _hl7_message(observations)
        conn = http.client.HTTPConnection(HOST, gateway.port, timeout=30)
        try:
            conn.request("POST", "/api/lab/hl7-ingest",
                         body=message.replace("MSGIDTOKEN", uuid.uuid4().hex).encode(),
                         headers={"Content-Type": "text/plain", "Authorization": f"Bearer {lab}"})
            response = conn.getresponse()
            body = _expect(response.status, json.loads(response.read()), 200,
                           "POST /api/lab/hl7-ingest")
            if not body["data"]["patient_matched"] or \
                    body["data"]["observations_created"] != observations:
                raise RuntimeError(f"the benchmark message did not store its results: {body}")
        finally:
            conn.close()
        return Request(url=gateway.base_url + "/api/lab/hl7-ingest", method="POST",
                       headers={"Content-Type": "text/plain", "Authorization": f"Bearer {lab}"},
                       body=message, unique_token="MSGIDTOKEN")
    return scenario


SCENARIOS = {"healthz": _healthz, "graphql_patient": _graphql_patient,
             "fhir_create": _fhir_create, "hl7_ingest_1obx": _hl7_ingest(1),
             "hl7_ingest_10obx": _hl7_ingest(10)}
TITLES = {"healthz": "GET /healthz", "graphql_patient": "GraphQL patient(id:)",
          "fhir_create": "FHIR create Observation", "hl7_ingest_1obx": "HL7 ingest 1 OBX",
          "hl7_ingest_10obx": "HL7 ingest 10 OBX"}
SCENARIOS.update(READ_SCENARIOS)  # reads, each also reported as a ratio to { __typename }
TITLES.update(READ_TITLES)
