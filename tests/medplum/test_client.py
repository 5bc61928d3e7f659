"""MedplumClient against the Node stand-in (real @medplum/fhir-router): tokens, upserts,
reads and error translation over real HTTP through the gateway's guarded client."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from adapters.http.outbound import OutboundPolicy, build_http_client
from adapters.medplum.client import MedplumClient
from adapters.medplum.errors import (
    MedplumAuthError,
    MedplumMultipleMatches,
    MedplumPermanentError,
    MedplumTransientError,
)
from adapters.medplum.matching import GATEWAY_ID_SYSTEM
from tests.medplum.conftest import make_client
from tests.medplum.harness import CLIENT_ID, MedplumServer

pytestmark = pytest.mark.slow


def patient(family: str = "Otieno", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": str(uuid.uuid4()),
            "identifier": [{"system": "urn:ke:nid", "value": uuid.uuid4().hex[:8]}],
            "name": [{"family": family, "given": ["Achieng"]}], **extra}


def fhir_requests(server: MedplumServer) -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["path"].startswith("/fhir/")]


# ------------------------------------------------------------------ tokens


async def test_token_is_fetched_once_and_cached(medplum: MedplumServer,
                                                http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    # Ten concurrent first calls share one token request.
    await asyncio.gather(*(client.read("Patient", f"p{i}") for i in range(10)))
    await client.upsert(patient())
    assert await client.search("Patient", {}) != []
    (token_request,) = medplum.token_requests()
    assert token_request["grantType"] == "client_credentials"
    assert token_request["clientId"] == CLIENT_ID
    assert token_request["contentType"].startswith("application/x-www-form-urlencoded")
    assert all(r["authorization"] == "Bearer" for r in fhir_requests(medplum))


async def test_token_is_renewed_shortly_before_it_expires(medplum: MedplumServer,
                                                          http_client: httpx.AsyncClient) -> None:
    now = [1000.0]
    client = make_client(http_client, medplum, clock=lambda: now[0], refresh_margin_seconds=60)
    await client.read("Patient", "x")
    now[0] += 3600 - 61  # expires_in is 3600: still a minute and a second to go
    await client.read("Patient", "x")
    assert len(medplum.token_requests()) == 1
    now[0] += 2  # within the margin: renewed before Medplum would refuse it
    await client.read("Patient", "x")
    assert len(medplum.token_requests()) == 2
    assert [r["status"] for r in fhir_requests(medplum)] == [404, 404, 404]


async def test_401_renews_the_token_once_and_repeats_the_call(medplum: MedplumServer,
                                                              http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    stored = await client.upsert(patient())
    medplum.revoke_tokens()  # e.g. Medplum restarted or an admin revoked the client's sessions
    assert (await client.read("Patient", stored["id"]))["id"] == stored["id"]
    assert len(medplum.token_requests()) == 2
    reads = [r["status"] for r in fhir_requests(medplum) if r["method"] == "GET"]
    assert reads == [401, 200]


async def test_a_second_401_is_an_auth_error_not_a_loop(medplum: MedplumServer,
                                                        http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    medplum.faults("error", status=401)  # every FHIR call refused, fresh token or not
    with pytest.raises(MedplumAuthError):
        await client.read("Patient", "x")
    assert len(medplum.token_requests()) == 2
    assert len(fhir_requests(medplum)) == 2


async def test_wrong_secret_is_permanent(medplum: MedplumServer,
                                         http_client: httpx.AsyncClient) -> None:
    client = MedplumClient(http_client, medplum.base_url, CLIENT_ID, "wrong")
    with pytest.raises(MedplumAuthError) as info:
        await client.read("Patient", "x")
    assert info.value.status == 401 and "invalid_client" in str(info.value)
    assert fhir_requests(medplum) == []


async def test_token_endpoint_outage_is_transient(medplum: MedplumServer,
                                                  http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    medplum.faults("error", status=503, target="token", count=1)
    with pytest.raises(MedplumTransientError):
        await client.read("Patient", "x")
    assert await client.read("Patient", "x") is None  # recovered: a new token, a 404


# ------------------------------------------------------------------ upsert and read


async def test_upsert_twice_is_one_resource_that_reads_back(medplum: MedplumServer,
                                                            http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    ours = patient("Otieno", meta={"versionId": "1", "lastUpdated": "2026-01-01T00:00:00Z",
                                   "profile": ["http://example.org/p"]})
    first = await client.upsert(ours, idempotency_key="k-1")
    second = await client.upsert({**ours, "name": [{"family": "Odhiambo"}]}, idempotency_key="k-2")

    assert first["id"] == second["id"] != ours["id"]  # Medplum's id, not ours
    copies = medplum.search("Patient", identifier=f"{GATEWAY_ID_SYSTEM}|{ours['id']}")
    assert [c["id"] for c in copies] == [first["id"]]
    assert medplum.search("Patient", identifier=f"urn:ke:nid|{ours['identifier'][0]['value']}"
                          ) == copies  # business identifiers travel unchanged

    read = await client.read("Patient", first["id"])
    assert read is not None
    assert read["name"] == [{"family": "Odhiambo"}]
    assert read["identifier"] == [*ours["identifier"],
                                  {"system": GATEWAY_ID_SYSTEM, "value": ours["id"]}]
    assert read["meta"]["profile"] == ["http://example.org/p"]
    assert read["meta"]["versionId"] != "1"  # Medplum's own version
    assert await client.find_copy(ours) == read

    puts = [r for r in fhir_requests(medplum) if r["method"] == "PUT"]
    assert [(p["path"], p["query"], p["idempotencyKey"], p["status"]) for p in puts] == [
        ("/fhir/R4/Patient", {"identifier": f"{GATEWAY_ID_SYSTEM}|{ours['id']}"}, "k-1", 201),
        ("/fhir/R4/Patient", {"identifier": f"{GATEWAY_ID_SYSTEM}|{ours['id']}"}, "k-2", 200)]
    assert "id" not in puts[0]["body"] and "versionId" not in puts[0]["body"]["meta"]


async def test_read_of_an_unknown_id_is_none(medplum: MedplumServer,
                                             http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    assert await client.read("Patient", "does-not-exist") is None
    with pytest.raises(MedplumPermanentError):
        await client.read("Patient", "../Observation")  # never becomes a path


async def test_without_an_id_the_business_identifier_is_the_key(
        medplum: MedplumServer, http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    obs = {"resourceType": "Observation", "status": "final",
           "identifier": [{"value": "no-system"}, {"system": "urn:lab:acc", "value": "A,42"}],
           "code": {"text": "Hb"}}
    first = await client.upsert(obs)
    again = await client.upsert({**obs, "status": "amended"})
    assert first["id"] == again["id"]
    (copy,) = medplum.search("Observation", identifier="urn:lab:acc|A\\,42")
    assert copy["status"] == "amended"
    assert all(i.get("system") != GATEWAY_ID_SYSTEM for i in copy["identifier"])

    # The versioned path keys the same way, also with characters that need escaping.
    odd = {**obs, "identifier": [{"system": "urn:lab:acc", "value": "B&C 1,2+%"}]}
    assert (await client.upsert_versioned(odd, 1)).action == "created"
    assert (await client.upsert_versioned(odd, 1)).action == "unchanged"
    assert (await client.upsert_versioned({**odd, "status": "amended"}, 2)).action == "updated"
    assert len(medplum.search("Observation", identifier="urn:lab:acc|B&C 1\\,2+%")) == 1


async def test_resources_without_identifier_element_are_keyed_on_a_tag(
        medplum: MedplumServer, http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    ours = {"resourceType": "Provenance", "id": str(uuid.uuid4()),
            "recorded": "2026-03-01T10:00:00Z", "target": [{"reference": "Patient/x"}],
            "agent": [{"who": {"display": "lab"}}]}
    first = await client.upsert(ours)
    second = await client.upsert(ours)
    assert first["id"] == second["id"]
    assert "identifier" not in second
    assert len(medplum.search("Provenance", _tag=f"{GATEWAY_ID_SYSTEM}|{ours['id']}")) == 1


async def test_multiple_matches_are_permanent(medplum: MedplumServer,
                                              http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    shared = {"system": "urn:ke:nid", "value": "12345678"}
    for _ in range(2):  # two records someone else put in Medplum with the same identifier
        assert medplum.fhir("POST", "Patient", json={"resourceType": "Patient",
                                                     "identifier": [shared]}).status_code == 201
    with pytest.raises(MedplumMultipleMatches) as info:
        await client.upsert({"resourceType": "Patient", "identifier": [shared]})
    assert info.value.status == 412
    # Keyed on our id, the same resource is mirrored without touching either of them.
    await client.upsert({"resourceType": "Patient", "id": "ours-1", "identifier": [shared]})
    assert len(medplum.search("Patient", identifier="urn:ke:nid|12345678")) == 3


# ------------------------------------------------------------------ versions


async def test_an_older_version_never_overwrites_a_newer_one(
        medplum: MedplumServer, http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    v1 = patient("Kamau")
    v2 = {**v1, "name": [{"family": "Kamau-Njoroge"}]}
    created = await client.upsert_versioned(v2, 2)
    late = await client.upsert_versioned(v1, 1)  # a retry of version 1 arriving after 2
    replay = await client.upsert_versioned(v2, 2)
    v3 = await client.upsert_versioned({**v1, "name": [{"family": "Njoroge"}]}, 3)
    assert (created.action, late.action, replay.action, v3.action) == (
        "created", "unchanged", "unchanged", "updated")
    (copy,) = medplum.search("Patient", identifier=f"{GATEWAY_ID_SYSTEM}|{v1['id']}")
    assert copy["name"] == [{"family": "Njoroge"}]
    assert {"system": "urn:cari:gateway:version", "code": "3"} in copy["meta"]["tag"]
    writes = [r for r in fhir_requests(medplum) if r["method"] in ("PUT", "POST")]
    assert [(w["method"], w["ifMatch"] is not None, w["ifNoneExist"] is not None)
            for w in writes] == [("POST", False, True), ("PUT", True, False)]


async def test_concurrent_versions_end_with_the_newest(medplum: MedplumServer,
                                                       http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    base = patient("Achieng")
    versions = [({**base, "name": [{"family": f"v{n}"}]}, n) for n in range(1, 9)]
    await client.upsert_versioned(*versions[0])
    # Seven writers read version 1 at once and race with If-Match; losers read again. A
    # writer that keeps losing gives up with a transient error, which the outbox retries.
    results = await asyncio.gather(*(client.upsert_versioned(r, n) for r, n in versions[1:]),
                                   return_exceptions=True)
    for (resource, n), result in zip(versions[1:], results, strict=True):
        if isinstance(result, BaseException):
            assert isinstance(result, MedplumTransientError), result
            await client.upsert_versioned(resource, n)
    (copy,) = medplum.search("Patient", identifier=f"{GATEWAY_ID_SYSTEM}|{base['id']}")
    assert copy["name"] == [{"family": "v8"}]


async def test_a_lost_if_match_race_reads_again(medplum: MedplumServer,
                                                http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, medplum)
    ours = patient()
    await client.upsert_versioned(ours, 1)
    medplum.faults("error", status=412, count=1, methods=["PUT"])  # someone wrote in between
    assert (await client.upsert_versioned(ours, 2)).action == "updated"
    medplum.faults("error", status=412, count=3, methods=["PUT"])
    with pytest.raises(MedplumTransientError, match="kept changing"):
        await client.upsert_versioned(ours, 3)
    calls = [(r["method"], r["status"]) for r in fhir_requests(medplum)]
    assert calls == [("GET", 200), ("POST", 201),
                     ("GET", 200), ("PUT", 412), ("GET", 200), ("PUT", 200),
                     ("GET", 200), ("PUT", 412), ("GET", 200), ("PUT", 412), ("GET", 200),
                     ("PUT", 412)]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("fault", "expected"), [
    ({"mode": "error500"}, MedplumTransientError),
    ({"mode": "error", "status": 503}, MedplumTransientError),
    ({"mode": "error", "status": 429}, MedplumTransientError),
    ({"mode": "drop"}, MedplumTransientError),
    ({"mode": "slow", "delayMs": 2500}, MedplumTransientError),  # over the 1 s client timeout
    ({"mode": "error", "status": 400}, MedplumPermanentError),
    ({"mode": "error", "status": 422}, MedplumPermanentError),
    ({"mode": "error", "status": 403}, MedplumAuthError),
])
async def test_failures_are_translated(medplum: MedplumServer, http_client: httpx.AsyncClient,
                                       fault: dict[str, Any], expected: type[Exception]) -> None:
    client = make_client(http_client, medplum)
    await client.read("Patient", "warm-up")  # the token is not what is being tested here
    medplum.faults(count=1, methods=["PUT"], **fault)
    with pytest.raises(expected) as info:
        await client.upsert(patient())
    if expected is MedplumPermanentError:
        assert not isinstance(info.value, MedplumTransientError)
    assert not isinstance(info.value, httpx.HTTPError)


async def test_medplum_down_is_transient(own_medplum: MedplumServer,
                                         http_client: httpx.AsyncClient) -> None:
    client = make_client(http_client, own_medplum)
    own_medplum.stop()
    with pytest.raises(MedplumTransientError, match="cannot reach"):
        await client.upsert(patient())


async def test_the_outbound_allow_list_is_honoured(medplum: MedplumServer) -> None:
    async with build_http_client(OutboundPolicy([]), 1.0) as unlisted:
        client = make_client(unlisted, medplum)
        with pytest.raises(MedplumPermanentError, match="refused"):
            await client.upsert(patient())
    assert medplum.requests() == []  # nothing left the gateway
