"""Rate limiting: a token bucket per client and route family, per webhook source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rest_compat.rate_limit import route_family
from rest_compat.token_bucket import TokenBuckets
from tests.asgi_probe import probe
from tests.support import Harness, make_settings, running_app


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=3, period=60.0, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("a")
    assert wait == pytest.approx(20.0)  # 3 per minute: one token every 20 s
    assert TokenBuckets.retry_after_seconds(wait) == 20
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 20.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


def test_idle_buckets_are_forgotten() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(capacity=2, period=60.0, clock=clock, max_keys=10)
    for n in range(10):
        buckets.take(n)
    clock.now += 61.0
    buckets.take("new")
    assert len(buckets._buckets) == 1


def test_route_family() -> None:
    assert route_family("/api/patients/p-1") == "/api/patients"
    assert route_family("/api/fhir/Patient/1/_history") == "/api/fhir"
    assert route_family("/graphql") == "/graphql"


@pytest.fixture
async def limited(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path / "var", sqlite_url, rate_limit_per_minute=3,
                             rate_limit_webhook_per_minute=2)
    async with running_app(settings) as harness:
        yield harness


async def test_a_burst_over_the_limit_gets_429_with_retry_after(limited: Harness) -> None:
    alice = limited.auth("clinician", sub="alice")
    statuses = [(await limited.client.get("/api/patients", headers=alice)).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await limited.client.get("/api/patients/p-1", headers=alice)  # same family
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"
    assert refused.json()["error"]["code"] == "rate_limited"
    # Another client, and another family of the same client, are unaffected.
    bob = limited.auth("clinician", sub="bob")
    assert (await limited.client.get("/api/patients", headers=bob)).status_code == 200
    fhir = await limited.client.get("/api/fhir/Patient", headers=alice)
    assert fhir.status_code == 200
    # Health, readiness and metrics are never limited.
    for _ in range(5):
        assert (await limited.client.get("/healthz")).status_code == 200


async def test_fhir_and_graphql_429_in_their_own_shape(limited: Harness) -> None:
    carol = limited.auth("clinician", sub="carol")
    for _ in range(3):
        await limited.client.get("/api/fhir/Patient", headers=carol)
        await limited.client.post("/graphql", json={"query": "{ __typename }"}, headers=carol)
    fhir = await limited.client.get("/api/fhir/Patient", headers=carol)
    assert fhir.status_code == 429 and fhir.json()["issue"][0]["code"] == "throttled"
    gql = await limited.client.post("/graphql", json={"query": "{ __typename }"},
                                    headers=carol)
    assert gql.status_code == 429
    assert gql.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_anonymous_callers_are_limited_by_address(limited: Harness) -> None:
    for _ in range(3):
        assert (await probe(limited.app, "GET", "/api/patients", client="198.51.100.1")
                ).status == 401
    assert (await probe(limited.app, "GET", "/api/patients", client="198.51.100.1")
            ).status == 429
    assert (await probe(limited.app, "GET", "/api/patients", client="198.51.100.2")
            ).status == 401


async def test_webhooks_are_limited_per_source(limited: Harness) -> None:
    path, query = "/api/payments/webhooks/mpesa", "token=bogus"
    first = [await probe(limited.app, "POST", path, query=query, client="192.0.2.7")
             for _ in range(3)]
    assert [r.status for r in first] == [401, 401, 429]
    assert first[-1].headers["retry-after"] == "30"
    other_source = await probe(limited.app, "POST", path, query=query, client="192.0.2.8")
    assert other_source.status == 401
    other_provider = await probe(limited.app, "POST", "/api/payments/webhooks/orange-money",
                                 query=query, client="192.0.2.7")
    assert other_provider.status == 401


async def test_the_bucket_refills(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url, rate_limit_per_minute=120)
    async with running_app(settings) as h:
        dave = h.auth("clinician", sub="dave")
        sent = 0
        # Requests take time and the bucket refills meanwhile: send until it is empty.
        while (await h.client.get("/api/patients", headers=dave)).status_code == 200:
            sent += 1
            assert sent < 1000
        assert sent >= 120
        await asyncio.sleep(0.6)  # two tokens a second
        assert (await h.client.get("/api/patients", headers=dave)).status_code == 200


async def test_zero_turns_it_off(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url, rate_limit_per_minute=0,
                             rate_limit_webhook_per_minute=0)
    async with running_app(settings) as h:
        erin = h.auth("clinician", sub="erin")
        for _ in range(5):
            assert (await h.client.get("/api/patients", headers=erin)).status_code == 200
