"""CDS client JWTs (CDS Hooks 2.0 security) over HTTP: a registered client's ES384/RS384
token is accepted at either path with aud the URL called; refused with 401: wrong aud,
expired, alg none or HS256, unknown iss, unknown kid, a jku not registered, a bad signature,
a replayed jti. A JWKS URL is read through the allow-list and cached."""

from __future__ import annotations

import base64
import ipaddress
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.auth.cds_jwt import CdsJwtVerifier, JwksCache
from adapters.http.outbound import OutboundPolicy
from adapters.settings.cds import CdsClient
from resolvers.errors import Unauthenticated
from tests.cds_hooks.support import (
    BASE,
    EHR,
    cds_gateway,
    cds_settings,
    client_jwt,
    clients_by_iss,
    ec_key,
    ehr_client,
    outcome_field,
    patient_view,
)
from tests.support import Harness, serving_app

KEY = ec_key("k1")
RSA = RSAKey.generate_key(2048, parameters={"kid": "r1"}, private=True)
PATH = "/cds-services/drug-interaction-check"
AUD = f"{BASE}{PATH}"


@pytest.fixture
async def gateway(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    settings = cds_settings(tmp_path, sqlite_url, **clients_by_iss(
        ehr_client(KEY), CdsClient(iss="https://rsa.example.org",
                                   jwks={"keys": [RSA.as_dict(private=False)]})))
    async with cds_gateway(settings) as harness:
        yield harness


async def _post(h: Harness, token: str, path: str = PATH) -> Any:
    return await h.client.post(path, json=patient_view(medications=["rifampicin"]),
                               headers={"Authorization": f"Bearer {token}"})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_registered_client_is_accepted_at_both_paths(gateway: Harness) -> None:
    assert (await _post(gateway, client_jwt(KEY, AUD))).status_code == 200
    other = f"{BASE}/cds-hooks/drug-interaction-check"
    assert (await _post(gateway, client_jwt(KEY, [other, "https://x"]),
                        "/cds-hooks/drug-interaction-check")).status_code == 200
    rsa = client_jwt(RSA, AUD, iss="https://rsa.example.org", alg="RS384", sub="ignored")
    assert (await _post(gateway, rsa)).status_code == 200


async def test_the_call_is_audited_under_the_client(gateway: Harness) -> None:
    response = await gateway.client.post(PATH, json=patient_view("p-jwt", medications=[]),
                                         headers={"Authorization":
                                                  f"Bearer {client_jwt(KEY, AUD)}"})
    assert response.status_code == 200
    events = (await gateway.client.get("/api/admin/audit-events?patient_id=p-jwt",
                                       headers=gateway.auth("admin"))).json()["data"]["items"]
    assert [(e["resource_type"], e["action"], e["subject"], e["roles"]) for e in events] == [
        ("CdsService", "E", EHR, ["integrator"])]


def _now() -> int:
    return int(time.time())


def _unsigned(header: dict[str, Any]) -> str:
    claims = {"iss": EHR, "aud": AUD, "iat": _now(), "exp": _now() + 60, "jti": "n"}
    return f"{_b64(header)}.{_b64(claims)}."


REFUSED = {
    "wrong aud": lambda: client_jwt(KEY, f"{BASE}/cds-services/lab-critical-values"),
    "aud of another host": lambda: client_jwt(KEY, f"https://other.example{PATH}"),
    "expired": lambda: client_jwt(KEY, AUD, iat=_now() - 900, exp=_now() - 600),
    "iat in the future": lambda: client_jwt(KEY, AUD, iat=_now() + 600, exp=_now() + 900),
    "lives over an hour": lambda: client_jwt(KEY, AUD, exp=_now() + 7200),
    "no jti": lambda: client_jwt(KEY, AUD, jti=None),
    "unknown iss": lambda: client_jwt(KEY, AUD, iss="https://stranger.example"),
    "unknown kid": lambda: client_jwt(ec_key("k9"), AUD),
    "signed by another key": lambda: client_jwt(ec_key("k1"), AUD),
    "jku not registered": lambda: jwt.encode(
        {"alg": "ES384", "kid": "k1", "jku": "https://evil.example/jwks"},
        {"iss": EHR, "aud": AUD, "iat": _now(), "exp": _now() + 60, "jti": "j"}, KEY,
        algorithms=["ES384"]),
    "alg none": lambda: _unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}),
    "HS256": lambda: jwt.encode({"alg": "HS256", "kid": "k1"}, {
        "iss": EHR, "aud": AUD, "iat": _now(), "exp": _now() + 60, "jti": "h"},
        OctKey.import_key(b"a-shared-secret-that-is-long-enough-32b"), algorithms=["HS256"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_refused_client_tokens(gateway: Harness, case: str) -> None:
    response = await _post(gateway, REFUSED[case]())
    assert response.status_code == 401, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "CDS client JWT refused" in response.json()["issue"][0]["diagnostics"]


async def test_a_replayed_jti_is_refused(gateway: Harness) -> None:
    token = client_jwt(KEY, AUD, jti=str(uuid.uuid4()))
    assert (await _post(gateway, token)).status_code == 200
    replay = await _post(gateway, token)
    assert replay.status_code == 401
    assert "replay" in replay.json()["issue"][0]["diagnostics"]


async def test_jwks_url_is_read_through_the_allow_list_and_cached(
        tmp_path: Path, sqlite_url: str) -> None:
    served: list[str] = []

    async def jwks(request: Request) -> JSONResponse:
        served.append(request.url.path)
        return JSONResponse({"keys": [KEY.as_dict(private=False)]})

    stand_in = Starlette(routes=[Route("/jwks.json", jwks)])
    async with serving_app(stand_in) as url:
        client = CdsClient(iss=EHR, jwks_url=f"{url}/jwks.json")
        refused = cds_settings(tmp_path / "a", sqlite_url, **clients_by_iss(client))
        async with cds_gateway(refused) as h:  # 127.0.0.1 is not on the allow-list
            response = await _post(h, client_jwt(KEY, AUD))
            assert response.status_code == 401 and "allow-list" in response.text
        assert served == []
        settings = cds_settings(tmp_path / "b", f"{sqlite_url}-b", **clients_by_iss(client))
        settings = replace(settings, outbound_allowlist=("127.0.0.1",))
        async with cds_gateway(settings) as h:
            for _ in range(3):
                assert (await _post(h, client_jwt(KEY, AUD))).status_code == 200
            unknown = await _post(h, client_jwt(ec_key("k2"), AUD))
            assert unknown.status_code == 401
            assert outcome_field(unknown) == ""
        assert served == ["/jwks.json"]  # cached; a refresh for an unknown kid waits 10 s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_rotated_key_is_picked_up_and_refreshes_are_spaced() -> None:
    """JwksCache over an httpx MockTransport standing in for the EHR's JWKS URL."""
    keys = [KEY]
    fetched: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in keys]})

    async def resolve(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address("192.0.2.10")]

    clock = Clock()
    policy = OutboundPolicy(["jwks.ehr.test"], resolver=resolve)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        cache = JwksCache(http, policy, seconds=300, monotonic=clock)
        url = "https://jwks.ehr.test/keys"
        verifier = CdsJwtVerifier({EHR: CdsClient(iss=EHR, jwks_url=url)}, cache,
                                  MemoryLedger(), lambda: datetime.now(UTC))
        assert (await verifier.verify(client_jwt(KEY, AUD), [AUD])).subject == EHR
        rotated = ec_key("k2")
        keys.append(rotated)
        with pytest.raises(Unauthenticated):  # fetched a moment ago: not again yet
            await verifier.verify(client_jwt(rotated, AUD), [AUD])
        clock.now += JwksCache.MIN_REFRESH_SECONDS
        assert (await verifier.verify(client_jwt(rotated, AUD), [AUD])).subject == EHR
        clock.now += 60
        for _ in range(3):  # unknown kids within the interval cost nothing
            with pytest.raises(Unauthenticated):
                await verifier.verify(client_jwt(ec_key("k9"), AUD), [AUD])
    assert fetched == [url, url, url]
    refused = OutboundPolicy([], resolver=resolve)  # not allow-listed: never fetched
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        cache = JwksCache(http, refused, seconds=300, monotonic=clock)
        with pytest.raises(Unauthenticated, match="allow-list"):
            await cache.get("https://jwks.ehr.test/keys")
    assert len(fetched) == 3


class MemoryLedger:
    """The JwtIdLedger port in memory."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    async def first_use(self, issuer: str, jti: str, expires_at: datetime,
                        now: datetime) -> bool:
        known = self.seen.get((issuer, jti))
        if known is not None and known > now:
            return False
        self.seen[(issuer, jti)] = expires_at
        return True
