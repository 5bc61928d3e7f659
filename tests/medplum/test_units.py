"""Medplum adapter rules without a server: match keys, request bodies, error translation
and the mirror's payload contract (httpx.MockTransport plays Medplum)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.medplum.client import MedplumClient
from adapters.medplum.errors import (
    MedplumAuthError,
    MedplumInputError,
    MedplumMultipleMatches,
    MedplumPermanentError,
    MedplumTransientError,
)
from adapters.medplum.matching import (
    GATEWAY_ID_SYSTEM,
    GATEWAY_VERSION_SYSTEM,
    MatchKey,
    match_key,
    prepare,
    stored_version,
)
from adapters.medplum.mirror import FHIR_UPSERT, MEDPLUM, MedplumMirror, gateway_version
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage, OutboxStatus

BASE = "https://medplum.example.org"


# ------------------------------------------------------------------ match key and body


def test_our_id_is_the_key_whatever_the_business_identifiers() -> None:
    resource = {"resourceType": "Patient", "id": "p-1",
                "identifier": [{"system": "urn:ke:nid", "value": "1"}]}
    assert match_key(resource) == MatchKey("identifier", GATEWAY_ID_SYSTEM, "p-1")


def test_without_an_id_the_first_usable_business_identifier_is_the_key() -> None:
    resource = {"resourceType": "Observation", "identifier": [
        {"value": "no-system"}, {"system": "urn:x", "value": "a|b"},
        {"system": "urn:lab", "value": "A,1"}, {"system": "urn:other", "value": "2"}]}
    key = match_key(resource)
    assert key == MatchKey("identifier", "urn:lab", "A,1")
    assert key.search_value == "urn:lab|A\\,1"


@pytest.mark.parametrize("resource", [
    {"resourceType": "Observation"},
    {"resourceType": "Observation", "identifier": [{"system": "urn:x"}]},
    {"resourceType": "Provenance"},
    {"resourceType": "Composition", "identifier": {"value": "x"}},
    {"resourceType": "patient", "id": "x"},
    {"id": "x"},
    {"resourceType": "Patient", "id": "has/slash"},
    {"resourceType": "Patient", "id": "p", "identifier": {"system": "urn:x", "value": "1"}},
])
def test_resources_that_cannot_be_matched_are_refused(resource: dict[str, Any]) -> None:
    with pytest.raises(MedplumInputError):
        match_key(resource)


def test_types_without_identifier_list() -> None:
    assert match_key({"resourceType": "Provenance", "id": "v"}) == MatchKey(
        "_tag", GATEWAY_ID_SYSTEM, "v")
    assert match_key({"resourceType": "Composition", "id": "c"}) == MatchKey(
        "identifier", GATEWAY_ID_SYSTEM, "c")
    assert match_key({"resourceType": "Composition", "id": "c", "identifier": {
        "system": "urn:doc", "value": "9"}}) == MatchKey("identifier", "urn:doc", "9")


def test_prepare_drops_our_server_fields_and_stamps_key_and_version() -> None:
    ours = {"resourceType": "Patient", "id": "p-1",
            "meta": {"versionId": "4", "lastUpdated": "2026-01-01T00:00:00Z",
                     "profile": ["http://example.org/p"],
                     "tag": [{"system": GATEWAY_VERSION_SYSTEM, "code": "3"},
                             {"system": "urn:t", "code": "x"}]},
            "identifier": [{"system": "urn:ke:nid", "value": "1"},
                           {"system": GATEWAY_ID_SYSTEM, "value": "p-1"}]}
    body = prepare(ours, match_key(ours), 4)
    assert body == {
        "resourceType": "Patient",
        "meta": {"profile": ["http://example.org/p"],
                 "tag": [{"system": "urn:t", "code": "x"},
                         {"system": GATEWAY_VERSION_SYSTEM, "code": "4"}]},
        "identifier": [{"system": "urn:ke:nid", "value": "1"},
                       {"system": GATEWAY_ID_SYSTEM, "value": "p-1"}]}
    assert ours["id"] == "p-1" and ours["meta"]["versionId"] == "4"  # the input is untouched
    assert stored_version(body) == 4
    assert prepare({"resourceType": "Patient", "id": "q", "meta": {"versionId": "1"}},
                   MatchKey("identifier", GATEWAY_ID_SYSTEM, "q")) == {
        "resourceType": "Patient", "identifier": [{"system": GATEWAY_ID_SYSTEM, "value": "q"}]}
    assert prepare({"resourceType": "Provenance", "id": "v"},
                   MatchKey("_tag", GATEWAY_ID_SYSTEM, "v"))["meta"] == {
        "tag": [{"system": GATEWAY_ID_SYSTEM, "code": "v"}]}


def test_stored_version_of_copies_written_by_others_is_zero() -> None:
    assert stored_version({"resourceType": "Patient"}) == 0
    assert stored_version({"meta": {"tag": [{"system": GATEWAY_VERSION_SYSTEM, "code": "x"}]}}) == 0


# ------------------------------------------------------------------ HTTP behaviour


Handler = Callable[[httpx.Request], httpx.Response]


def token_then(handler: Handler) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer",
                                             "expires_in": 3600})
        return handler(request)
    return route, seen


def client_for(handler: Handler) -> MedplumClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return MedplumClient(http, BASE + "/", "id", "secret")


def outcome(code: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code,
                                                           "details": {"text": "nope"}}]}


@pytest.mark.parametrize(("status", "body", "expected"), [
    (500, outcome("exception"), MedplumTransientError),
    (502, None, MedplumTransientError),
    (503, outcome("transient"), MedplumTransientError),
    (408, None, MedplumTransientError),
    (409, outcome("conflict"), MedplumTransientError),
    (429, outcome("throttled"), MedplumTransientError),
    (400, outcome("invalid"), MedplumPermanentError),
    (404, outcome("not-found"), MedplumPermanentError),
    (422, outcome("processing"), MedplumPermanentError),
    (403, outcome("forbidden"), MedplumAuthError),
    (412, outcome("multiple-matches"), MedplumMultipleMatches),
    (412, outcome("processing"), MedplumMultipleMatches),  # no If-Match in an upsert
    (302, None, MedplumPermanentError),
])
async def test_upsert_answers_are_translated(status: int, body: Any,
                                             expected: type[Exception]) -> None:
    handler, seen = token_then(lambda r: httpx.Response(status, json=body))
    with pytest.raises(expected) as info:
        await client_for(handler).upsert({"resourceType": "Patient", "id": "p"})
    assert info.value.status == status and str(status) in str(info.value)
    if expected is MedplumPermanentError:
        assert not isinstance(info.value, MedplumTransientError)
    put = seen[-1]
    assert put.method == "PUT" and put.url.path == "/fhir/R4/Patient"
    assert put.url.params["identifier"] == f"{GATEWAY_ID_SYSTEM}|p"
    assert put.headers["content-type"] == "application/fhir+json"
    assert put.headers["authorization"] == "Bearer t"


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                   httpx.RemoteProtocolError("reset"), httpx.PoolTimeout("full")])
async def test_network_failures_are_transient(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error
    with pytest.raises(MedplumTransientError):
        await client_for(fail).read("Patient", "p")


async def test_token_request_is_form_encoded_client_credentials() -> None:
    handler, seen = token_then(lambda r: httpx.Response(404, json=outcome("not-found")))
    assert await client_for(handler).read("Patient", "p") is None
    token = seen[0]
    assert str(token.url) == BASE + "/oauth2/token"
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(token.content.decode())) == {
        "grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}


@pytest.mark.parametrize(("status", "expected"), [(400, MedplumAuthError),
                                                  (401, MedplumAuthError),
                                                  (503, MedplumTransientError)])
async def test_token_failures(status: int, expected: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "invalid_client"})
    with pytest.raises(expected):
        await client_for(handler).read("Patient", "p")


async def test_a_token_answer_without_a_token_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")
    with pytest.raises(MedplumTransientError):
        await client_for(handler).read("Patient", "p")


# ------------------------------------------------------------------ mirror


def message(payload: dict[str, Any]) -> OutboxMessage:
    now = datetime.now(UTC)
    return OutboxMessage(id="m1", destination=MEDPLUM, payload=payload, idempotency_key="k1",
                         status=OutboxStatus.IN_FLIGHT, attempts=0, next_attempt_at=now,
                         created_at=now)


@pytest.mark.parametrize("payload", [
    {"type": "fhir.delete", "resource": {"resourceType": "Patient", "id": "p"}},
    {"resource": {"resourceType": "Patient", "id": "p"}},
    {"type": FHIR_UPSERT},
    {"type": FHIR_UPSERT, "resource": ["not", "an", "object"]},
    {"type": FHIR_UPSERT, "resource": {"resourceType": "Observation"}},
])
async def test_bad_payloads_are_dead_letters(payload: dict[str, Any]) -> None:
    handler, seen = token_then(lambda r: httpx.Response(500))
    with pytest.raises(PermanentDeliveryError):
        await MedplumMirror(client_for(handler)).deliver(message(payload))
    assert seen == []


async def test_mirror_passes_the_idempotency_key_and_keeps_transient_errors_retryable() -> None:
    handler, seen = token_then(lambda r: httpx.Response(503, json=outcome("transient")))
    mirror = MedplumMirror(client_for(handler))
    with pytest.raises(MedplumTransientError) as info:
        await mirror.deliver(message({"type": FHIR_UPSERT,
                                      "resource": {"resourceType": "Patient", "id": "p"}}))
    assert not isinstance(info.value, PermanentDeliveryError)
    assert seen[-1].headers["idempotency-key"] == "k1"


async def test_mirror_uses_the_version_guard_only_for_versioned_resources() -> None:
    def medplum(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})
        body = json.loads(request.content)
        return httpx.Response(201, json={**body, "id": "m", "meta": {"versionId": "x"}})
    handler, seen = token_then(medplum)
    mirror = MedplumMirror(client_for(handler))
    await mirror.deliver(message({"type": FHIR_UPSERT, "resource": {
        "resourceType": "Patient", "id": "p", "meta": {"versionId": "2"}}}))
    await mirror.deliver(message({"type": FHIR_UPSERT, "resource": {
        "resourceType": "Patient", "id": "p", "meta": {"versionId": "draft"}}}))
    assert [(r.method, r.headers.get("if-none-exist")) for r in seen[1:]] == [
        ("GET", None), ("POST", "identifier=urn%3Acari%3Agateway%3Aresource-id%7Cp"),
        ("PUT", None)]


def test_gateway_version() -> None:
    assert gateway_version({"meta": {"versionId": "12"}}) == 12
    for meta in ({}, {"versionId": "0"}, {"versionId": "W/1"}, {"versionId": 3},
                 {"versionId": "\u0661"}):
        assert gateway_version({"meta": meta}) is None
