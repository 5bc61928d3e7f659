"""The read scenarios http_throughput measures against the authenticated ``{ __typename }``.

``graphql_typename`` is the baseline: token verification and GraphQL parse/validate/execute
with no data. Every other read is reported as a ratio to it, measured in the same run, so
the figures compare across machines and noisy runs. The reads use data seeded once per
gateway through the API (HL7 ingest), so it is stored as the gateway stores it: 50 patients,
each with 10 laboratory Observations, and one of them with 30 (a full ``_count=20`` page).
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks._loadgen import Request
from benchmarks._support import GatewayProcess, cli, request

TYPENAME_QUERY = "{ __typename }"
PATIENTS_LABS_QUERY = ("query BenchPatientsLabs { patients(first: 50) { nodes { id family "
                       "labResults(first: 5) { id code value unit effective } } } }")
SEEDED_PATIENTS = 50
BASELINE = "graphql_typename"


def _checked(port: int, method: str, path: str, what: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Any:
    status, answer = request(port, method, path, body, headers)
    if status not in (200, 201):
        raise RuntimeError(f"{what}: HTTP {status}: {str(answer)[:1000]}")
    return answer


def _oru(mrn: str, control_id: str, observations: int) -> bytes:
    segments = [
        "MSH|^~\\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||"
        f"ORU^R01^ORU_R01|{control_id}|P|2.5",
        f"PID|1||{mrn}^^^BENCH&urn:bench:read&URI^MR||READER^A||19850412|F",
        f"OBR|1|PLC-{control_id}|FIL-{control_id}|24323-8^Metabolic panel^LN|||"
        "20260115071500|||||||||||||||20260115082500|||F"]
    for i in range(observations):
        segments.append(f"OBX|{i + 1}|NM|2823-3^Potassium^LN|{i}|4.{i % 10}|mmol/L^mmol/L^UCUM|"
                        f"3.5-5.1|N|||F|||202601{10 + i % 18:02d}071500")
    return ("\r".join(segments) + "\r").encode()


def read_fixtures(gateway: GatewayProcess, fx: dict[str, str]) -> dict[str, str]:
    """Seeded once per gateway (cached in ``fx``): patients with laboratory results."""
    if "reader_id" in fx:
        return fx
    clinician = {"Authorization": f"Bearer {fx['clinician']}",
                 "Content-Type": "application/json"}
    lab = {"Authorization": "Bearer " + cli(gateway.env, "token", "--sub", "bench-lab",
                                            "--roles", "lab"), "Content-Type": "text/plain"}
    ids = []
    for n in range(SEEDED_PATIENTS):
        created = _checked(gateway.port, "POST", "/api/patients", "POST /api/patients",
                           json.dumps({"identifiers": [{"system": "urn:bench:read",
                                                        "value": f"R{n}"}],
                                       "family": "Reader", "given": ["A"],
                                       "organization_id": fx["organization_id"]}).encode(),
                           clinician)
        ids.append(created["data"]["id"])
        for batch in range(3 if n == 0 else 1):
            stored = _checked(gateway.port, "POST", "/api/lab/hl7-ingest", "HL7 ingest",
                              _oru(f"R{n}", f"READ{n}-{batch}", 10), lab)
            if stored["data"]["patient_id"] != ids[-1]:
                raise RuntimeError(f"the seeding message did not match its patient: {stored}")
    fx["reader_id"] = ids[0]
    return fx


def _auth(fx: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {fx['clinician']}"}


def _graphql(query: str, check: Any) -> Any:
    def scenario(gateway: GatewayProcess, fx: dict[str, str]) -> Request:
        read_fixtures(gateway, fx)
        headers = {**_auth(fx), "Content-Type": "application/json"}
        body = json.dumps({"query": query})
        answer = _checked(gateway.port, "POST", "/graphql", "POST /graphql", body.encode(),
                          headers)
        if answer.get("errors") or not check(answer.get("data") or {}, fx):
            raise RuntimeError(f"{query[:60]} answered {json.dumps(answer)[:1000]}")
        return Request(url=gateway.base_url + "/graphql", method="POST", headers=headers,
                       body=body)
    return scenario


def _get(path_of: Any, check: Any) -> Any:
    def scenario(gateway: GatewayProcess, fx: dict[str, str]) -> Request:
        read_fixtures(gateway, fx)
        path = path_of(fx)
        answer = _checked(gateway.port, "GET", path, f"GET {path}", headers=_auth(fx))
        if not check(answer, fx):
            raise RuntimeError(f"GET {path} answered {json.dumps(answer)[:1000]}")
        return Request(url=gateway.base_url + path, headers=_auth(fx))
    return scenario


def _labs_page_ok(data: dict[str, Any], _fx: dict[str, str]) -> bool:
    nodes = data["patients"]["nodes"]
    return len(nodes) == SEEDED_PATIENTS and sum(len(n["labResults"]) == 5 for n in nodes) \
        >= SEEDED_PATIENTS - 1  # the first fixtures' patient may have none


READ_SCENARIOS = {
    BASELINE: _graphql(TYPENAME_QUERY, lambda d, _fx: d == {"__typename": "Query"}),
    "graphql_patients_labs": _graphql(PATIENTS_LABS_QUERY, _labs_page_ok),
    "rest_patient": _get(lambda fx: f"/api/patients/{fx['patient_id']}",
                         lambda a, fx: a["data"]["id"] == fx["patient_id"]),
    "rest_lab_results": _get(lambda fx: f"/api/patients/{fx['reader_id']}/lab-results",
                             lambda a, _fx: len(a["data"]["items"]) == 30),
    "fhir_patient": _get(lambda fx: f"/api/fhir/Patient/{fx['patient_id']}",
                         lambda a, fx: a["id"] == fx["patient_id"]),
    "fhir_observation_search": _get(
        lambda fx: f"/api/fhir/Observation?patient={fx['reader_id']}&_count=20",
        lambda a, _fx: a["total"] == 30 and len(a["entry"]) == 20),
}
READ_TITLES = {
    BASELINE: "GraphQL { __typename }", "graphql_patients_labs": "GraphQL 50 patients+labs",
    "rest_patient": "REST patient", "rest_lab_results": "REST lab-results",
    "fhir_patient": "FHIR Patient read", "fhir_observation_search": "FHIR Observation?_count=20",
}
# The scenarios reported as a ratio to the same-run baseline (graphql_patient is in
# scenarios.py: patient(id:) with its managingOrganization).
RATIO_TO_BASELINE = ("graphql_patient", *READ_SCENARIOS)
READ_ORDER = (BASELINE, "graphql_patient", "graphql_patients_labs", "rest_patient",
              "rest_lab_results", "fhir_patient", "fhir_observation_search")


def add_ratios(entries: list[dict[str, Any]]) -> list[str]:
    """Each read's req/s over the baseline's in the same run (same database and connection
    count), stored in the entry as ``ratio_to_typename``; returns printable lines."""
    base = {(e["database"], e["connections"]): e["requests_per_s"] for e in entries
            if e["scenario"] == BASELINE}
    lines = []
    for e in entries:
        baseline = base.get((e["database"], e["connections"]))
        if e["scenario"] in RATIO_TO_BASELINE and e["scenario"] != BASELINE and baseline:
            e["ratio_to_typename"] = round(e["requests_per_s"] / baseline, 3)
            lines.append(f"{e['scenario']:24} [{e['database']}] c={e['connections']}: "
                         f"{e['requests_per_s']:7.0f} req/s = {e['ratio_to_typename']:.0%} of "
                         f"{{ __typename }} ({baseline:.0f} req/s)")
    return lines
