"""Fuzzing every entrance: hostile input is a 4xx (or an AE), never a 5xx, an AR for content,
or stored.

CARI_FUZZ_EXAMPLES sets the examples per entrance and database (default 30, a few seconds
each, so it runs in ``make test``); run with 5000 or more before a release.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.hl7v2.ack import ack_mode
from adapters.hl7v2.mllp import send_mllp
from adapters.hl7v2.parser import peek_header
from tests.fuzz.live import LiveApp, live_app
from tests.fuzz.strategies import hostile_strings, json_body, mutated_document, mutated_hl7
from tests.hl7v2.messages import WORKED_EXAMPLE, oru
from tests.support import Harness
from tests.webhooks.signing import stripe_event, stripe_headers

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("CARI_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

PATIENT = {"identifiers": [{"system": "urn:test:mrn", "value": "MRN-1"}], "family": "Mwangi",
           "given": ["Wanjiru"], "birth_date": "1990-01-01", "gender": "female"}
ORGANIZATION = {"name": "Kisumu District Hospital", "identifiers": [
    {"system": "urn:test:org", "value": "ORG-1"}]}
FHIR_PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "1"}],
                "name": [{"family": "Odhiambo", "given": ["Grace"]}], "gender": "female",
                "birthDate": "1985-04-12", "extension": [
                    {"url": "http://example.org/x", "valueDecimal": 1.5}]}
HL7_MESSAGES = [WORKED_EXAMPLE, oru(3), oru(1, version="2.3"), oru(2, sep="\n")]
GQL_CREATE = ("mutation($input: PatientInput!) { createPatient(input: $input) "
              "{ __typename } }")
GQL_INPUT = {"family": "Mwangi", "given": ["Wanjiru"],
             "identifiers": [{"system": "urn:x", "value": "1"}]}




@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp(f"fuzz-{request.param}"), request.param,
                  mllp=True) as live:
        yield live
        # After every entrance of this database: nothing hostile reached storage.
        assert live.rows_with_forbidden_text() == []


def _fresh(doc: dict[str, Any]) -> dict[str, Any]:
    """The valid document with a new identifier, so valid mutants do not collide."""
    raw = json.dumps(doc).replace('"MRN-1"', f'"{uuid.uuid4().hex}"') \
        .replace('"ORG-1"', f'"{uuid.uuid4().hex}"')
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


def _post(app: LiveApp, path: str, body: bytes, content_type: str,
          headers: dict[str, str] | None = None) -> int:
    async def call(h: Harness) -> int:
        r = await h.client.post(path, content=body, headers={
            **(headers if headers is not None else h.auth("admin")),
            "Content-Type": content_type})
        return r.status_code

    return app.run(call)


def _get(app: LiveApp, url: str) -> int:
    async def call(h: Harness) -> int:
        return (await h.client.get(url, headers=h.auth("admin"))).status_code

    return app.run(call)


def _no_server_error(status: int, what: object) -> None:
    assert status < 500, (status, repr(what)[:300])


@FUZZ
@given(data=st.data())
def test_rest_patients(app: LiveApp, data: st.DataObject) -> None:
    body = data.draw(json_body(_fresh(PATIENT)))
    _no_server_error(_post(app, "/api/patients", body, "application/json"), body)


@FUZZ
@given(data=st.data())
def test_rest_organizations(app: LiveApp, data: st.DataObject) -> None:
    body = data.draw(json_body(_fresh(ORGANIZATION)))
    _no_server_error(_post(app, "/api/organizations", body, "application/json"), body)


@FUZZ
@given(data=st.data())
def test_fhir_create(app: LiveApp, data: st.DataObject) -> None:
    body = data.draw(json_body(FHIR_PATIENT))
    _no_server_error(_post(app, "/api/fhir/Patient", body, "application/fhir+json"), body)


def _q(value: str) -> str:
    # httpx refuses URLs over 64 KiB: long values are cut to what still fits once escaped.
    return quote(value[:20_000].encode("utf-8", "surrogatepass"), safe="")


@FUZZ
@given(name=st.sampled_from(["family", "name", "_offset", "_count", "birthdate", "identifier",
                             "_id", "_sort", "gender", "family:exact", "given:contains"]),
       value=hostile_strings | st.integers().map(str) | st.just("9" * 30),
       path=st.sampled_from(["/api/fhir/Patient", "/api/patients", "/api/organizations",
                             "/api/fhir/Observation"]),
       in_path=hostile_strings)
def test_search_and_path_parameters(app: LiveApp, name: str, value: str, path: str,
                                    in_path: str) -> None:
    _no_server_error(_get(app, f"{path}?{_q(name)}={_q(value)}"), (name, value))
    _no_server_error(_get(app, f"{path}/{_q(in_path)}"), in_path)
    if path == "/api/fhir/Patient":
        _no_server_error(_get(app, f"{path}/{_q(in_path)}/_history/{_q(value)}"), value)


@FUZZ
@given(data=st.data())
def test_hl7_ingest_over_http(app: LiveApp, data: st.DataObject) -> None:
    message = data.draw(mutated_hl7(HL7_MESSAGES))
    body = message.encode("utf-8", "surrogatepass")
    _no_server_error(_post(app, "/api/lab/hl7-ingest", body, "text/plain"), message)


@FUZZ
@given(data=st.data())
def test_graphql(app: LiveApp, data: st.DataObject) -> None:
    variables = data.draw(mutated_document({"input": _fresh(GQL_INPUT)}))
    query = GQL_CREATE
    if data.draw(st.booleans()):  # a hostile literal in the document itself
        literal = json.dumps(data.draw(hostile_strings), ensure_ascii=True)
        query = ('mutation { createPatient(input: {family: ' + literal + ', given: ["G"], '
                 'identifiers: [{system: "urn:x", value: "' + uuid.uuid4().hex + '"}]}) '
                 '{ __typename } }')
    body = json.dumps({"query": query, "variables": variables}, ensure_ascii=True).encode()
    _no_server_error(_post(app, "/graphql", body, "application/json"), body)


@FUZZ
@given(data=st.data())
def test_signed_stripe_webhook(app: LiveApp, data: st.DataObject) -> None:
    event = json.loads(stripe_event())
    raw = json.dumps(data.draw(mutated_document(event)), ensure_ascii=True).encode()
    headers = stripe_headers(raw)  # signed by the official SDK: only the content is hostile
    _no_server_error(_post(app, "/api/webhooks/stripe", raw, "application/json", headers), raw)


@FUZZ
@given(data=st.data())
def test_hl7_over_mllp(app: LiveApp, data: st.DataObject) -> None:
    # Framing bytes inside the content would split the frame: a transport matter, not content.
    message = data.draw(mutated_hl7(HL7_MESSAGES)).replace("\x0b", "").replace("\x1c", "")

    raw = message.encode("utf-8", "surrogatepass")
    # How many ACKs the sender asked for (MSH-15/16; e.g. enhanced mode with MSH-15 NE and a
    # refused message gets none): at least one whenever a rejection or an error is reported.
    header = peek_header(raw)
    wanted = 1 if header is None or ack_mode(header) == "original" or \
        header.accept_ack_type not in ("NE", "SU") else None

    async def call(h: Harness) -> list[bytes]:
        try:
            return await send_mllp("127.0.0.1", h.settings.mllp_port, raw, expected=wanted,
                                   within=10.0 if wanted else 1.0)
        except TimeoutError:
            if wanted:
                raise
            return []  # the sender asked for no accept ACK (MSH-15 NE/SU)

    for ack in app.run(call):
        assert b"internal error" not in ack, (message[:300], ack)
        msa = next(s for s in ack.split(b"\r") if s.startswith(b"MSA")).split(b"|")
        if msa[1] in (b"AR", b"CR"):  # a reject only for what the gateway does not take
            assert b"^Unsupported" in ack, (message[:300], ack)




