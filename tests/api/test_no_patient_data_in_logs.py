"""No patient data in the logs, whichever way a failing request comes in.

Distinctive identifiers and names go in through every entrance (REST JSON, FHIR, search,
GraphQL, HL7 over HTTP and MLLP, webhooks); each request fails; then everything logged at
DEBUG, both as the records themselves (with exception texts) and as the JSON lines the
gateway writes, is searched for them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.hl7v2.mllp import send_mllp
from adapters.observability.logging import configure_logging
from tests.support import Harness, free_port, make_settings, running_app
from tests.webhooks.signing import WEBHOOK_ENV, lead_body, lead_headers

NATIONAL_ID = "NID-LEAK-4242"
FAMILY = "Leakfamily"
GIVEN = "Quillonleak"
PHONE = "+254700424242"
NEEDLES = (NATIONAL_ID, FAMILY, GIVEN, PHONE)

PID = f"PID|1||{NATIONAL_ID}^^^NATID&1.3.6.1.4.1.9999.1&ISO^NI||{FAMILY}^{GIVEN}||19850412|F"
MSH = r"MSH|^~\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||{type}|{id}|P|2.5"
HL7_FAILURES = [
    # an unsupported message type
    "\r".join([MSH.format(type="ADT^A01^ADT_A01", id="LEAK1"), PID]),
    # an ORU^R01 without an OBR or OBX
    "\r".join([MSH.format(type="ORU^R01^ORU_R01", id="LEAK2"), PID]),
    # an OBX whose value is not a number and whose time is not a time (kept, with warnings,
    # unmatched: the names in the warnings go back to the sender, never to the log)
    "\r".join([MSH.format(type="ORU^R01^ORU_R01", id="LEAK3"), PID,
               f"OBR|1|P1|F1|24323-8^Panel^LN|||{FAMILY}",
               f"OBX|1|NM|2823-3^Potassium^LN||{NATIONAL_ID}|mmol/L|||||F|||{GIVEN}"]),
    # not HL7 at all, the data first
    f"{PID}\r{MSH.format(type='ORU^R01^ORU_R01', id='LEAK4')}",
]


@pytest.fixture
async def gateway(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path / "var", sqlite_url, mllp_port=free_port(),
                             mllp_host="127.0.0.1", **WEBHOOK_ENV)
    async with running_app(settings) as harness:
        yield harness


@pytest.fixture
def gateway_log(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Logging as ``serve`` sets it up, at DEBUG: the JSON lines it writes, and (caplog) the
    records themselves, exception texts included."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    stream = io.StringIO()
    [gateway_handler] = root.handlers
    assert isinstance(gateway_handler, logging.StreamHandler)
    gateway_handler.setStream(stream)
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def _patient_json() -> dict[str, Any]:
    return {"identifiers": [{"system": "urn:oid:1.3.6.1.4.1.9999.1", "value": NATIONAL_ID}],
            "family": FAMILY, "given": [GIVEN], "phone": PHONE}


async def _rest(h: Harness) -> None:
    clinician = h.auth("clinician")
    bad_patients = [
        {**_patient_json(), "birth_date": f"{NATIONAL_ID}"},
        {**_patient_json(), "gender": FAMILY},
        {**_patient_json(), "identifiers": [{"system": "", "value": NATIONAL_ID}]},
        {**_patient_json(), "organization_id": FAMILY},
    ]
    for body in bad_patients:
        r = await h.client.post("/api/patients", json=body, headers=clinician)
        assert r.status_code in (400, 404, 422), r.text
    r = await h.client.post("/api/patients", content=f'{{"family": "{FAMILY}", '.encode(),
                            headers={**clinician, "Content-Type": "application/json"})
    assert r.status_code == 400
    r = await h.client.put("/api/patients/does-not-exist", json=_patient_json(),
                           headers=clinician)
    assert r.status_code >= 400
    # Searches that fail: bad parameters, and a caller without the role.
    for params in ({"family": FAMILY, "limit": "-1"}, {"identifier": NATIONAL_ID, "cursor": GIVEN},
                   {"birth_date": FAMILY}):
        r = await h.client.get("/api/patients", params=params, headers=clinician)
        assert r.status_code >= 400 or r.json()["data"]["items"] == [], r.text
    r = await h.client.get("/api/patients", params={"family": FAMILY}, headers=h.auth())
    assert r.status_code == 403


async def _fhir(h: Harness) -> None:
    fhir = {**h.auth("clinician"), "Content-Type": "application/fhir+json"}
    patient = {"resourceType": "Patient",
               "identifier": [{"system": "urn:oid:1.3.6.1.4.1.9999.1", "value": NATIONAL_ID}],
               "name": [{"family": FAMILY, "given": [GIVEN]}],
               "telecom": [{"system": "phone", "value": PHONE}]}
    for body in ({**patient, "birthDate": NATIONAL_ID}, {**patient, "gender": FAMILY},
                 {**patient, "resourceType": "Observation"}, {**patient, FAMILY: GIVEN}):
        r = await h.client.post("/api/fhir/Patient", content=json.dumps(body).encode(),
                                headers=fhir)
        assert r.status_code in (400, 422), r.text
    r = await h.client.put("/api/fhir/Patient/x", content=json.dumps(
        {**patient, "id": "y", "birthDate": GIVEN}).encode(), headers=fhir)
    assert r.status_code >= 400
    for params in ({"family": FAMILY, "birthdate": NATIONAL_ID},
                   {"identifier": NATIONAL_ID, f"{GIVEN}": "1"}, {"_count": FAMILY}):
        r = await h.client.get("/api/fhir/Patient", params=params, headers=fhir)
        assert r.status_code >= 400 or r.json()["total"] == 0, r.text
    r = await h.client.post("/api/fhir/Patient/_search", content=f"birthdate={FAMILY}".encode(),
                            headers={**fhir, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code >= 400
    r = await h.client.post("/api/fhir/Patient", content=json.dumps(patient).encode(),
                            headers={**h.auth(), "Content-Type": "application/fhir+json"})
    assert r.status_code == 403


async def _graphql(h: Harness) -> None:
    literals = f'family: "{FAMILY}", identifierValue: "{NATIONAL_ID}"'
    failures: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
        # a syntax error: the excerpt of the source would quote the literals
        (f"{{ patients({literals}) {{ nodes {{ id }} ", {}, ("clinician",)),
        # validation errors: an unknown argument, a wrong type, an unknown field
        (f'{{ patients({literals}, nickname: "{GIVEN}") {{ nodes {{ id }} }} }}', {},
         ("clinician",)),
        (f'{{ patients(first: "{GIVEN}", {literals}) {{ nodes {{ id }} }} }}', {},
         ("clinician",)),
        (f"{{ patients({literals}) {{ nodes {{ {GIVEN} }} }} }}", {}, ("clinician",)),
        # a mutation with invalid variables
        ("mutation Create($input: PatientInput!) { createPatient(input: $input) { __typename } }",
         {"input": {**_patient_json(), "gender": FAMILY, "birthDate": NATIONAL_ID}},
         ("clinician",)),
        ("mutation Create($input: PatientInput!) { createPatient(input: $input) { __typename } }",
         {"input": {**_patient_json(), FAMILY: GIVEN}}, ("clinician",)),
        # literals in a mutation that the use case refuses
        (f'mutation {{ createPatient(input: {{family: "{FAMILY}", given: ["{GIVEN}"], '
         f'birthDate: "{NATIONAL_ID}"}}) {{ __typename }} }}', {}, ("clinician",)),
        # a forbidden query and a forbidden mutation
        (f"query Find {{ patients({literals}) {{ nodes {{ id }} }} }}", {}, ()),
        (f'mutation {{ createPatient(input: {{family: "{FAMILY}"}}) {{ __typename }} }}', {},
         ()),
        # a negative page size from a variable
        ("query($f: String) { patients(first: -1, family: $f) { nodes { id } } }",
         {"f": FAMILY}, ("clinician",)),
    ]
    for query, variables, roles in failures:
        body = await h.gql(query, variables, roles=roles)
        assert body.get("errors") or "Error" in json.dumps(body), (query, body)


async def _hl7(h: Harness) -> None:
    for message in HL7_FAILURES:
        r = await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                                headers={**h.auth("lab"), "Content-Type": "text/plain"})
        assert r.status_code >= 400 or not r.json().get("success", True) or \
            not r.json()["data"].get("patient_matched"), r.text
        r = await h.client.post("/api/clinical/hl7/ingest", content=message.encode(),
                                headers={**h.auth("lab"), "Content-Type": "text/plain"})
        assert r.status_code < 500, r.text


async def _mllp(h: Harness) -> None:
    for message in HL7_FAILURES:
        acks = await send_mllp("127.0.0.1", h.settings.mllp_port, message)
        assert acks and b"MSA|" in acks[0], acks


async def _webhooks(h: Harness) -> None:
    raw = lead_body(name=f"{GIVEN} {FAMILY}", message=f"my id is {NATIONAL_ID}", phone=PHONE)
    headers = lead_headers(raw, secret="not-the-secret")
    r = await h.client.post("/api/gtm/webhooks/inbound", content=raw, headers=headers)
    assert r.status_code == 401
    r = await h.client.post("/api/gtm/webhooks/inbound", content=raw[:-5],
                            headers=lead_headers(raw[:-5]))
    assert r.status_code == 400
    stripe_raw = json.dumps({"id": "evt_leak", "type": "customer.created", "data": {"object": {
        "name": f"{GIVEN} {FAMILY}", "metadata": {"national_id": NATIONAL_ID}}}}).encode()
    r = await h.client.post("/api/webhooks/stripe", content=stripe_raw,
                            headers={"Stripe-Signature": f"t=1,v1={NATIONAL_ID}",
                                     "Content-Type": "application/json"})
    assert r.status_code in (400, 401)
    r = await h.client.post("/api/payments/webhooks/mpesa", params={"token": NATIONAL_ID},
                            json={"Body": {"stkCallback": {"MerchantRequestID": FAMILY,
                                                           "CallbackMetadata": PHONE}}})
    assert r.status_code >= 400


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [needle for needle in NEEDLES if needle.lower() in lowered]


async def test_failing_requests_leave_no_patient_data_in_the_logs(
        gateway: Harness, gateway_log: io.StringIO, caplog: pytest.LogCaptureFixture) -> None:
    for entrance in (_rest, _fhir, _graphql, _hl7, _mllp, _webhooks):
        await entrance(gateway)

    records = caplog.records
    assert records, "nothing was logged: the test would prove nothing"
    # The GraphQL failures were logged, by operation, code and query hash.
    graphql_lines = [json.loads(line) for line in gateway_log.getvalue().splitlines()
                     if '"query_hash"' in line]
    assert len(graphql_lines) >= 10, graphql_lines
    assert {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "FORBIDDEN"} <= {
        line["error_code"] for line in graphql_lines}, graphql_lines
    assert "Find" in {line.get("graphql_operation") for line in graphql_lines}
    assert all(line.get("request_id") for line in graphql_lines)

    leaked = {f"{r.name} {r.levelname}: {caplog.handler.format(r)[:300]}" for r in records
              if _leaks(caplog.handler.format(r))}
    assert not leaked, sorted(leaked)
    json_leaks = [line for line in gateway_log.getvalue().splitlines() if _leaks(line)]
    assert json_leaks == []


async def test_a_graphql_failure_is_logged_by_its_hash_and_a_bad_variable_is_the_clients(
        gateway: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cari.graphql")
    query = ("mutation Create($input: PatientInput!) "
             "{ createPatient(input: $input) { __typename } }")
    body = await gateway.gql(query, {"input": {"family": FAMILY, "birthDate": NATIONAL_ID}},
                             roles=("clinician",))
    [error] = body["errors"]
    assert not error["message"].startswith("Unexpected error")  # the client's mistake, shown
    [record] = [r for r in caplog.records if r.name == "cari.graphql"]
    assert record.levelno == logging.INFO
    assert record.__dict__["query_hash"] == hashlib.sha256(query.encode()).hexdigest()[:16]
    assert record.__dict__["graphql_operation"] == "Create"
    assert record.__dict__["error_code"] == "BAD_USER_INPUT"
    assert not _leaks(caplog.text) and "createPatient" not in caplog.text
