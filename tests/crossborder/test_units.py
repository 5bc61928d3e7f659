"""Units: the circuit breaker, the PIXm and PDQm paths of the HIE client, CARI_HIE_* settings."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from adapters.hie.client import HttpHieClient
from adapters.settings import SettingsError, load_settings
from resolvers.crossborder.breaker import CircuitBreakers
from resolvers.crossborder.countries import DEFAULT_PROFILES, SUPPORTED
from resolvers.crossborder.model import (
    AuthKind,
    CountryProfile,
    FailureKind,
    HieFailure,
    QueryMode,
)

BASE = "https://pix.example/fhir"
SYSTEM = "urn:oid:1.3.6.1.4.1.9999.1"


def test_breaker_opens_half_opens_and_closes() -> None:
    now = [0.0]
    breakers = CircuitBreakers(lambda: now[0], threshold=2, reset_seconds=10)
    breakers.failed("a")
    assert breakers.allow("a")
    breakers.failed("a")
    assert not breakers.allow("a") and breakers.allow("b")
    now[0] = 11
    assert breakers.allow("a")  # the one trial call
    assert not breakers.allow("a")
    breakers.failed("a")  # the trial failed: open again
    assert not breakers.allow("a")
    now[0] = 22
    assert breakers.allow("a")
    breakers.succeeded("a")
    assert breakers.allow("a") and breakers.allow("a")


def test_country_table() -> None:
    assert SUPPORTED == ("KE", "GH", "NG", "ZA", "TZ", "UG", "RW", "ET")
    assert DEFAULT_PROFILES["KE"].base_url == "https://hie.health.go.ke/fhir/r4"
    assert DEFAULT_PROFILES["UG"].base_url == "https://dhis2.health.go.ug/fhir/r4"


def _pix_handler(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/Patient/$ihe-pix"):
        if request.url.params["sourceIdentifier"] != f"{SYSTEM}|NID9988":
            return httpx.Response(404, json={"resourceType": "OperationOutcome"})
        if request.headers.get("authorization") != "Bearer static-token":
            return httpx.Response(401)
        return httpx.Response(200, json={"resourceType": "Parameters", "parameter": [
            {"name": "targetIdentifier", "valueIdentifier": {"system": "urn:x", "value": "M1"}},
            {"name": "targetId", "valueReference": {"reference": "Patient/p-123"}},
            {"name": "targetId", "valueReference": {"reference": "https://elsewhere/Patient/9"}}]})
    if request.url.path.endswith("/Patient/p-123"):
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p-123"})
    return httpx.Response(404)


def _profile(**changes: Any) -> CountryProfile:
    return replace(DEFAULT_PROFILES["GH"], **{
        "base_url": BASE, "identifier_system": SYSTEM, "mode": QueryMode.PIXM,
        "auth": AuthKind.BEARER, "bearer_token": "static-token", **changes})


async def test_pixm_reads_each_local_target() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_pix_handler)) as http:
        answer = await HttpHieClient(http).find(_profile(), "NID9988")
    assert answer.resources == [{"resourceType": "Patient", "id": "p-123"}]


async def test_pixm_not_found_and_unauthorized() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_pix_handler)) as http:
        client = HttpHieClient(http)
        with pytest.raises(HieFailure) as refused:
            await client.find(_profile(bearer_token="wrong"), "NID9988")
        assert refused.value.kind is FailureKind.UNAUTHORIZED
        empty = await client.find(_profile(), "NID0000")
    assert empty.resources == []


async def test_pdqm_unknown_domain_is_no_match_and_search_sends_system_value() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["identifier"])
        return httpx.Response(404, content=json.dumps({"resourceType": "OperationOutcome"}))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        answer = await HttpHieClient(http).find(
            _profile(mode=QueryMode.PDQM, auth=AuthKind.NONE), "NID9988")
    assert answer.resources == [] and seen == [f"{SYSTEM}|NID9988"]


async def test_mtls_profile_without_certificate_is_unreachable() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_pix_handler)) as http:
        with pytest.raises(HieFailure) as failed:
            await HttpHieClient(http).find(DEFAULT_PROFILES["ZA"], "8001015009087")
    assert failed.value.kind is FailureKind.UNREACHABLE and "CLIENT_CERT" in failed.value.message


def test_settings_override_and_report_every_problem() -> None:
    settings = load_settings({"CARI_HIE_KE_BASE_URL": "https://sandbox.example/fhir/",
                              "CARI_HIE_KE_MODE": "pdqm", "CARI_HIE_KE_AUTH": "bearer",
                              "CARI_HIE_KE_BEARER_TOKEN": "t", "CARI_HIE_KE_TIMEOUT": "1.5"})
    assert settings.hie.overrides["KE"] == {
        "base_url": "https://sandbox.example/fhir", "mode": QueryMode.PDQM,
        "auth": AuthKind.BEARER, "bearer_token": "t", "timeout_seconds": 1.5}
    with pytest.raises(SettingsError) as bad:
        load_settings({"CARI_HIE_GH_MODE": "soap", "CARI_HIE_GH_AUTH": "kerberos",
                       "CARI_HIE_GH_TIMEOUT": "0", "CARI_HIE_GH_BASE_URL": "ftp://x",
                       "CARI_HIE_ZA_AUTH": "mtls"})
    text = str(bad.value)
    for name in ("GH_MODE", "GH_AUTH", "GH_TIMEOUT", "GH_BASE_URL", "ZA_AUTH=mtls"):
        assert name in text
