from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.http.outbound import OutboundPolicy, build_http_client
from adapters.medplum.client import MedplumClient
from tests.medplum.harness import CLIENT_ID, CLIENT_SECRET, MedplumServer

# Outbound calls in these tests go through the gateway's guarded client; loopback has to be
# on the allow-list like an operator would put it there.
LOOPBACK = OutboundPolicy(["127.0.0.1"])
CLIENT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def medplum_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MedplumServer]:
    """One stand-in per test module (start-up costs about half a second)."""
    server = MedplumServer(tmp_path_factory.mktemp("medplum"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def medplum(medplum_process: MedplumServer) -> MedplumServer:
    """The module's stand-in, emptied: no data, no faults, no tokens, no request log."""
    medplum_process.reset(data=True)
    return medplum_process


@pytest.fixture
def own_medplum(tmp_path: Path) -> Iterator[MedplumServer]:
    """A stand-in of this test's own, which it may stop and start again."""
    server = MedplumServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(LOOPBACK, CLIENT_TIMEOUT) as client:
        yield client


def make_client(http: httpx.AsyncClient, server: MedplumServer, **kwargs: Any) -> MedplumClient:
    return MedplumClient(http, server.base_url, CLIENT_ID, CLIENT_SECRET, **kwargs)
