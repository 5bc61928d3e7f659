"""HIE stand-ins: the Medplum fhir-router harness, one real FHIR server per country, loaded
with Patients carrying that country's national identifiers; each behind a test proxy
(tests/crossborder/proxy.py) that a test can make slow, failing or malformed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.settings.hie import HieSettings, Override
from resolvers.crossborder.countries import DEFAULT_PROFILES
from resolvers.crossborder.model import AuthKind, QueryMode
from tests.crossborder.proxy import Proxy, running_proxy
from tests.medplum.harness import CLIENT_ID, CLIENT_SECRET, MedplumServer
from tests.support import DEAD_HIE, HIE_COUNTRIES, Harness, make_settings, running_app

COUNTRIES = ("KE", "UG", "TZ")
# Per country: (national id, family, given); each country's stand-in holds its own people.
PEOPLE = {"KE": [("12345678", "Odhiambo", "Grace"), ("23456789", "Kamau", "Peter")],
          "UG": [("CM900112", "Nakato", "Sarah"), ("12345678", "Okello", "James")],
          "TZ": [("19850412-0001", "Mwakyusa", "Neema")]}


def national_patient(code: str, national_id: str, family: str, given: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "active": True, "gender": "female",
            "birthDate": "1985-04-12", "name": [{"family": family, "given": [given]}],
            "identifier": [{"system": DEFAULT_PROFILES[code].identifier_system,
                            "value": national_id}]}


def load(server: MedplumServer, code: str) -> None:
    for national_id, family, given in PEOPLE[code]:
        response = server.fhir("POST", "Patient",
                               json=national_patient(code, national_id, family, given),
                               headers={"Content-Type": "application/fhir+json"})
        assert response.status_code == 201, response.text


@pytest.fixture(scope="package")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MedplumServer]]:
    """One stand-in per country for the whole package (start-up is about half a second)."""
    servers: dict[str, MedplumServer] = {}
    try:
        for code in COUNTRIES:
            server = servers[code] = MedplumServer(tmp_path_factory.mktemp(f"hie-{code}"))
            server.start()
            load(server, code)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def overrides(bases: dict[str, str], timeout: float = 2.0,
              secret: str = CLIENT_SECRET, cache: float = 0.0) -> HieSettings:
    """Profiles that point each country at its stand-in (OAuth2 client credentials); the
    others at a closed loopback port, never at the real national hosts."""
    dead: dict[str, dict[str, Override]] = {
        code: {"base_url": DEAD_HIE} for code in HIE_COUNTRIES if code not in bases}
    return HieSettings(overrides={**dead, **{code: {
        "base_url": f"{base}/fhir/R4", "token_url": f"{base}/oauth2/token", "auth": AuthKind.OAUTH2,
        "mode": QueryMode.FHIR, "client_id": CLIENT_ID, "client_secret": secret,
        "timeout_seconds": timeout} for code, base in bases.items()}},
        breaker_failures=3, breaker_reset_seconds=60, cache_seconds=cache)


@dataclass
class CrossBorder:
    h: Harness
    proxies: dict[str, Proxy]
    standins: dict[str, MedplumServer]


@contextlib.asynccontextmanager
async def cross_border_app(tmp_path: Path, database_url: str, standins: dict[str, MedplumServer],
                           *, timeout: float = 2.0, secret: str = CLIENT_SECRET,
                           cache: float = 0.0, **extra: Any) -> AsyncIterator[CrossBorder]:
    async with contextlib.AsyncExitStack() as stack:
        proxies = {code: await stack.enter_async_context(running_proxy(s.base_url))
                   for code, s in standins.items()}
        settings = make_settings(
            tmp_path / "var", database_url, outbox_worker=False, payments_reconcile_seconds=0.0,
            hie=overrides({c: p.base_url for c, p in proxies.items()}, timeout, secret, cache),
            **{"outbound_allowlist": ("127.0.0.1",), **extra})
        h = await stack.enter_async_context(running_app(settings))
        yield CrossBorder(h, proxies, standins)


@pytest.fixture
async def xb(tmp_path: Path, sqlite_url: str,
             standins: dict[str, MedplumServer]) -> AsyncIterator[CrossBorder]:
    async with cross_border_app(tmp_path, sqlite_url, standins) as found:
        yield found


@pytest.fixture
async def xb_any_db(tmp_path: Path, database_url: str,
                    standins: dict[str, MedplumServer]) -> AsyncIterator[CrossBorder]:
    async with cross_border_app(tmp_path, database_url, standins) as found:
        yield found
