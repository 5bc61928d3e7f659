"""The input rule at every entrance: each case answered 500 (or stored junk) before it."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from adapters.hl7v2.mllp import send_mllp
from tests.hl7v2.messages import WORKED_EXAMPLE
from tests.support import Harness
from tests.webhooks.signing import stripe_event, stripe_headers

FHIR = {"Content-Type": "application/fhir+json"}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def _stored_with_nul(h: Harness) -> int:
    """Rows anywhere in the FHIR store or lab results whose text holds a NUL."""
    async with h.engine.connect() as conn:
        found = 0
        for table, column in (("fhir_resources", "document"), ("patients", "family")):
            rows = (await conn.execute(text(f"SELECT {column} FROM {table}"))).all()
            found += sum("\x00" in str(r[0]) or "\\u0000" in str(r[0]) for r in rows)
        return found


_ID = '{"system": "urn:test:mrn", "value": "ID"}'
_GIVEN = '["Wanjiru"]'


@pytest.mark.parametrize(("family", "given", "identifier", "extra", "field"), [
    ('"a\\u0000b"', _GIVEN, _ID, "", "family"),
    ('"\\udc00"', _GIVEN, _ID, "", "family"),
    ('"M"', '["x", "a\\u0000"]', _ID, "", "given[1]"),
    ('"M"', _GIVEN, '{"system": "urn:test:mrn", "value": "\\ud800"}', "",
     "identifiers[0].value"),
    ('"M"', _GIVEN, _ID, ', "note": NaN', "body"),
    ('"M"', _GIVEN, _ID, ', "n": 1e999', "n"),
    ('"M"', _GIVEN, _ID, ', "n": 9007199254740993', "n"),
    ('"' + "x" * 70_000 + '"', _GIVEN, _ID, "", "family"),
])
async def test_rest_json_refused_with_the_field_named(edge: Harness, family: str, given: str,
                                                      identifier: str, extra: str,
                                                      field: str) -> None:
    raw = (f'{{"identifiers": [{identifier.replace("ID", uuid.uuid4().hex)}], '
           f'"family": {family}, "given": {given}{extra}}}')
    r = await edge.client.post("/api/patients", content=raw.encode(), headers={
        **edge.auth("clinician"), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == field
    assert await _stored_with_nul(edge) == 0


async def test_the_same_document_without_the_mutation_is_accepted(edge: Harness) -> None:
    # The baseline the refusals above are measured against: the rule does not refuse it.
    raw = f'{{"identifiers": [{_ID.replace("ID", uuid.uuid4().hex)}], "family": "M", ' \
          f'"given": {_GIVEN}}}'
    r = await edge.client.post("/api/patients", content=raw.encode(), headers={
        **edge.auth("clinician"), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text


async def test_organization_with_nul_name_is_400(edge: Harness) -> None:
    r = await edge.client.post("/api/organizations", content=b'{"name": "Clinic\\u0000"}',
                               headers={**edge.auth("admin"), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == "name"


@pytest.mark.parametrize(("family", "expression"), [
    ("a\\u0000b", "name[0].family"), ("\\udc00", "name[0].family")])
async def test_fhir_create_refused_with_an_expression(edge: Harness, family: str,
                                                      expression: str) -> None:
    raw = '{"resourceType": "Patient", "name": [{"family": "' + family + '"}]}'
    r = await edge.client.post("/api/fhir/Patient", content=raw.encode(),
                               headers={**edge.auth("clinician"), **FHIR})
    assert r.status_code == 400, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    assert await _stored_with_nul(edge) == 0


@pytest.mark.parametrize("path", ["/api/patients", "/api/fhir/Patient", "/graphql",
                                  "/api/fhir/$validate"])
@pytest.mark.parametrize("depth", [65, 970])
async def test_deep_json_is_400_on_every_json_route(edge: Harness, path: str, depth: int) -> None:
    content_type = "application/fhir+json" if "fhir" in path else "application/json"
    r = await edge.client.post(path, content=_nested(depth).encode(), headers={
        **edge.auth("admin"), "Content-Type": content_type})
    assert r.status_code == 400, r.text
    assert "nested" in r.text


async def test_graphql_body_that_is_not_utf8_is_400(edge: Harness) -> None:
    r = await edge.client.post("/graphql", content=b'{"query": "\xff\xfe{ __typename }"}',
                               headers={**edge.auth("admin"), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("url", [
    "/api/patients?family=%00", "/api/patients?name=a%00b", "/api/payments/%00",
    "/api/organizations?name=%ff%fe", "/api/fhir/Patient?family=%00",
    "/api/fhir/Patient?name=" + "a" * 60_000, "/api/patients?name=" + "a" * 60_000,
    "/api/fhir/Patient?name=" + "a" * 300,
    "/api/fhir/Patient?_offset=99999999999999999999999", "/api/fhir/Patient?_count=%C2%B2",
    "/api/fhir/Patient/" + "a" * 5_000, "/api/patients/" + "a" * 5_000,
    "/api/fhir/Patient/" + "a" * 65, "/api/fhir/Patient?_id=" + "a" * 65,
])
async def test_query_and_path_input_refused_with_a_400(edge: Harness, url: str) -> None:
    r = await edge.client.get(url, headers=edge.auth("admin"))
    assert r.status_code == 400, (url[:80], r.status_code, r.text[:300])
    body = r.json()
    if url.startswith("/api/fhir"):
        assert body["resourceType"] == "OperationOutcome"
    else:
        assert body["success"] is False


@pytest.mark.parametrize("url", ["/api/patients/%00", "/api/fhir/Patient/" + "a" * 65,
                                 "/api/lab/alerts?patient_id=%00", "/graphql?query=%00"])
async def test_authentication_comes_before_the_input_rule(edge: Harness, url: str) -> None:
    """No token: 401 whatever the URL holds; a wrong role: 403, and the refused URL is not
    written to the audit trail (a NUL would not even store on PostgreSQL)."""
    assert (await edge.client.get(url)).status_code == 401
    if not url.startswith("/graphql"):
        denied = await edge.client.get(url, headers=edge.auth("public_health"))
        assert denied.status_code in (400, 403), denied.text
    assert (await edge.client.get(url, headers=edge.auth("admin"))).status_code == 400


async def test_query_parameter_with_nul_is_named(edge: Harness) -> None:
    r = await edge.client.get("/api/patients?family=%00", headers=edge.auth("admin"))
    assert r.json()["error"]["details"]["field"] == "family"
    r = await edge.client.get("/api/fhir/Patient?family=%00", headers=edge.auth("admin"))
    assert r.json()["issue"][0]["expression"] == ["family"]


@pytest.mark.parametrize("vid", ["99999999999999999999", "%C2%B2"])
async def test_history_version_out_of_range_is_404(edge: Harness, vid: str) -> None:
    r = await edge.client.get(f"/api/fhir/Patient/p1/_history/{vid}", headers=edge.auth("admin"))
    assert r.status_code == 404, r.text


async def test_fhir_search_form_with_nul_is_400(edge: Harness) -> None:
    r = await edge.client.post("/api/fhir/Patient/_search", content=b"family=a%00b", headers={
        **edge.auth("admin"), "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("mutation", ["nul", "surrogate", "deep"])
async def test_signed_stripe_event_with_refused_content_is_400_and_not_stored(
        edge: Harness, mutation: str) -> None:
    event = json.loads(stripe_event())
    raw = json.dumps(event)
    if mutation == "nul":
        raw = raw.replace('"pi_3QxA"', '"pi_\\u0000"')
    elif mutation == "surrogate":
        raw = raw.replace('"pi_3QxA"', '"pi_\\udc00"')
    else:
        raw = raw.replace('"pi_3QxA"', _nested(970))
    r = await edge.client.post("/api/webhooks/stripe", content=raw.encode(),
                               headers=stripe_headers(raw.encode()))
    assert r.status_code == 400, r.text
    async with edge.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM webhook_events"))).scalar() == 0


@pytest.mark.parametrize("body", [b"[" * 1000, b'{"Body": "\\u0000"}', b'{"a": NaN}'])
def test_payment_callbacks_refuse_with_a_value_error(body: bytes) -> None:
    from adapters.payments.mpesa.callbacks import parse_stk_callback
    from adapters.payments.mtn_momo.parsing import parse_callback

    with pytest.raises(ValueError):
        parse_stk_callback(body)
    with pytest.raises(ValueError):
        parse_callback(body, "collection")


_HL7_NUL = WORKED_EXAMPLE.replace("ODHIAMBO", "ODH\x00IAMBO")


async def test_hl7_ingest_with_nul_is_400_naming_the_field_and_stores_nothing(
        edge: Harness) -> None:
    r = await edge.client.post("/api/lab/hl7-ingest", content=_HL7_NUL.encode(), headers={
        **edge.auth("lab"), "Content-Type": "application/hl7-v2"})
    assert r.status_code == 400, r.text
    assert "PID^1^5" in r.text
    async with edge.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM lab_results"))).scalar() == 0


async def test_mllp_message_with_nul_gets_an_error_not_a_reject(mllp_gateway: Harness) -> None:
    # AR/CR tell the lab to resend; the same bytes would be refused forever. The example asks
    # for enhanced mode (MSH-15 AL): CE there; AE in original mode.
    for message in (_HL7_NUL, _HL7_NUL.replace("|P|2.5|||AL|NE", "|P|2.5")):
        (ack,) = await send_mllp("127.0.0.1", mllp_gateway.settings.mllp_port, message)
        msa = next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")
        assert msa[1] == ("CE" if "|AL|NE" in message else "AE"), ack
        assert b"PID^1^5" in ack and b"102" in ack


_CREATE = ('mutation($f: String!) {{ createPatient(input: {{family: {family}, given: ["G"], '
           'identifiers: [{{system: "urn:x", value: "{value}"}}]}}) {{ __typename }} }}')


@pytest.mark.parametrize("family", ['"a\\u0000b"', '"\\udc00"'])
async def test_graphql_string_literal_with_nul_or_surrogate_is_refused(edge: Harness,
                                                                       family: str) -> None:
    query = _CREATE.format(family=family, value=uuid.uuid4().hex)
    r = await edge.client.post("/graphql", json={"query": query, "variables": {"f": "x"}},
                               headers=edge.auth("admin"))
    assert r.status_code == 200, r.text
    # graphql-core's lexer refuses a lone surrogate escape itself; the NUL is the rule's.
    assert r.json()["data"] is None
    assert ("string argument contains a NUL" if "0000" in family else "Unicode") in r.text
    assert await _stored_with_nul(edge) == 0


async def test_graphql_variable_with_nul_is_400(edge: Harness) -> None:
    query = 'mutation($f: String!) { createPatient(input: {family: $f, given: ["G"], ' \
            'identifiers: [{system: "urn:x", value: "v1"}]}) { __typename } }'
    raw = json.dumps({"query": query, "variables": {"f": "a\x00b"}})
    r = await edge.client.post("/graphql", content=raw.encode(), headers={
        **edge.auth("admin"), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert await _stored_with_nul(edge) == 0


async def test_values_longer_than_the_columns_are_refused_or_left_unindexed(edge: Harness) -> None:
    """PostgreSQL enforces column lengths that SQLite ignores: a FHIR Patient's identifier or
    id longer than the MPI keeps is a 422 naming the element; a value too long to be searched
    is kept in the document but not indexed; a version beyond 32 bits is simply not found."""
    headers = {**edge.auth("clinician"), "Content-Type": "application/fhir+json"}
    patient = {"resourceType": "Patient", "name": [{"family": "Odhiambo"}],
               "identifier": [{"system": "x" * 300, "value": "1"}]}
    r = await edge.client.post("/api/fhir/Patient", json=patient, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["issue"][0]["expression"] == ["Patient.identifier"]
    r = await edge.client.put("/api/fhir/Patient/" + "a" * 40, json={
        "resourceType": "Patient", "id": "a" * 40, "name": [{"family": "Odhiambo"}]},
        headers=headers)
    assert r.status_code == 422, r.text
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "x" * 300}]},
                   "subject": {"reference": "Patient/p1"}}
    r = await edge.client.post("/api/fhir/Observation", json=observation, headers=headers)
    assert r.status_code == 201, r.text
    stored = await edge.client.get(f"/api/fhir/Observation/{r.json()['id']}", headers=headers)
    assert stored.json()["code"]["coding"][0]["code"] == "x" * 300
    r = await edge.client.get("/api/fhir/Patient/p1/_history/2147483648", headers=headers)
    assert r.status_code == 404


async def test_schema_violating_requests_are_refused(edge: Harness) -> None:
    """What schemathesis' negative checks found: an empty filter value that the schema types
    (an enum, a date-time), a number sent as a string, and a $validate body that is not a
    resource at all were taken as if absent or valid."""
    admin = edge.auth("admin")
    assert (await edge.client.get("/api/admin/outbox?status=", headers=admin)).status_code == 422
    r = await edge.client.get("/api/admin/audit-events?until=", headers=admin)
    assert r.status_code == 422
    r = await edge.client.post("/api/cds/panic-values/check", json={"observations": [
        {"code": "2823-3", "value": "7.1"}]}, headers=admin)
    assert r.status_code == 422
    r = await edge.client.post("/api/fhir/$validate", json=[1, 2], headers={
        **admin, "Content-Type": "application/fhir+json"})
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"
