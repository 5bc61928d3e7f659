"""The storage under contract: the in-memory twin, SQLite and PostgreSQL, behind one fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.db.engine import create_engine, session_factory
from adapters.db.tables_webhooks import LeadRow
from adapters.db.uow import SqlUnitOfWork
from adapters.db.webhooks import SqlLeadStore, SqlSuppressionList
from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from adapters.memory.webhooks import InMemoryLeadStore, InMemorySuppressionList
from composition import migrate_engine
from resolvers.clock import SystemClock
from resolvers.webhooks.handlers import Lead, LeadStore, SuppressionList
from tests.support import fresh_postgres_database


@dataclass(frozen=True)
class Backend:
    """One implementation of the storage ports, as a use case would get it."""

    name: str
    new_unit_of_work: Callable[[], SqlUnitOfWork | InMemoryUnitOfWork]
    suppressions: SuppressionList
    leads: LeadStore
    stored_leads: Callable[[], Awaitable[list[Lead]]]  # what the lead store kept


def _memory_backend() -> Backend:
    state = MemoryState()
    leads = InMemoryLeadStore()

    async def stored_leads() -> list[Lead]:
        return list(leads.leads.values())

    return Backend("memory", lambda: InMemoryUnitOfWork(state, SystemClock().now),
                   InMemorySuppressionList(), leads, stored_leads)


async def _sql_backend(name: str, url: str) -> AsyncIterator[Backend]:
    engine = create_engine(url)
    await migrate_engine(engine)
    sessions = session_factory(engine)
    now = SystemClock().now
    lead_columns = [LeadRow.__table__.c[f] for f in Lead.__dataclass_fields__]  # type: ignore[attr-defined]

    async def stored_leads() -> list[Lead]:
        async with sessions() as session:
            rows = (await session.execute(select(*lead_columns))).mappings()
            return [Lead(**dict(r)) for r in rows]

    try:
        yield Backend(name, lambda: SqlUnitOfWork(sessions, now), SqlSuppressionList(sessions, now),
                      SqlLeadStore(sessions, now), stored_leads)
    finally:
        await engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Every contract test runs once per implementation and must pass identically on each."""
    if request.param == "memory":
        yield _memory_backend()
    elif request.param == "sqlite":
        async for sqlite in _sql_backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}"):
            yield sqlite
    else:
        async with fresh_postgres_database() as url:
            async for postgresql in _sql_backend("postgresql", url):
                yield postgresql
