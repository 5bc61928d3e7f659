from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import (
    Harness,
    free_port,
    fresh_postgres_database,
    make_settings,
    running_app,
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Storage tests run once on the embedded SQLite default and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cari.sqlite3'}"
    else:
        async with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cari.sqlite3'}"


@pytest.fixture
async def gateway(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    """The whole app on SQLite, lifespan running, talked to over ASGI."""
    async with running_app(make_settings(tmp_path / "var", sqlite_url)) as harness:
        yield harness


@pytest.fixture
async def mllp_gateway(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    """The whole app on SQLite with its MLLP listener on a free loopback port."""
    settings = make_settings(tmp_path / "var", sqlite_url, mllp_port=free_port(),
                             mllp_host="127.0.0.1")
    async with running_app(settings) as harness:
        yield harness


@pytest.fixture
async def gateway_any_db(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """The whole app on each database."""
    async with running_app(make_settings(tmp_path / "var", database_url)) as harness:
        yield harness


@pytest.fixture
async def quiet_gateway(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    """No background outbox worker: only the request under test touches the database."""
    settings = make_settings(tmp_path / "var", sqlite_url, outbox_worker=False)
    async with running_app(settings) as harness:
        yield harness
