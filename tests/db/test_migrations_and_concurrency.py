"""Storage behaviour that only a real database shows: migrations, locking, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from adapters.db.engine import create_engine, session_factory
from adapters.db.migrate import upgrade_to_head
from adapters.db.outbox import SqlOutboxStore
from adapters.db.uow import SqlUnitOfWork
from composition import migrate_engine
from resolvers.clock import SystemClock
from resolvers.outbox.model import NewOutboxMessage

pytestmark = pytest.mark.db


async def test_migrations_create_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate_engine(engine)
        await migrate_engine(engine)  # idempotent: a second run is a no-op

        def diff(sync_conn):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)

        async with engine.connect() as conn:
            problems = await conn.run_sync(diff)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert problems == [], f"models and migrations differ: {problems}"
        assert {"patients", "patient_identifiers", "organizations", "audit_events",
                "outbox_messages", "alembic_version"} <= tables
    finally:
        await engine.dispose()


async def test_sync_migrate_command_path(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "outbox_messages" in tables
    finally:
        await engine.dispose()


async def test_concurrent_claimers_never_share_a_message(database_url: str) -> None:
    """Several workers (separate engines, like separate processes) drain one outbox."""
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        await migrate_engine(engines[0])
        uow = SqlUnitOfWork(session_factory(engines[0]), SystemClock().now)
        async with uow:
            await uow.outbox.enqueue([NewOutboxMessage("d", {"i": i}, f"k{i}") for i in range(200)])
            await uow.commit()
        stores = [SqlOutboxStore(session_factory(e)) for e in engines]
        claimed: dict[str, str] = {}
        now = datetime.now(UTC) + timedelta(seconds=1)

        async def drain(index: int) -> None:
            while True:
                batch = await stores[index].claim_due(
                    now=now, limit=7, lease_until=now + timedelta(minutes=5),
                    claim_token=f"w{index}")
                if not batch:
                    return
                for m in batch:
                    assert m.id not in claimed, f"{m.id} claimed twice"
                    claimed[m.id] = f"w{index}"
                    assert await stores[index].mark_delivered(m.id, f"w{index}", now)

        await asyncio.gather(*(drain(i) for i in range(4)))
        assert len(claimed) == 200
        assert (await stores[0].counts())["delivered"] == 200
        assert len(set(claimed.values())) > 1, "work was not shared between workers"
    finally:
        for e in engines:
            await e.dispose()


async def test_transaction_is_all_or_nothing_on_failure(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate_engine(engine)
        sessions = session_factory(engine)
        with pytest.raises(RuntimeError):
            async with SqlUnitOfWork(sessions, SystemClock().now) as uow:
                await uow.outbox.enqueue([NewOutboxMessage("d", {}, "k")])
                raise RuntimeError("use case failed after writing")
        assert (await SqlOutboxStore(sessions).counts())["pending"] == 0
    finally:
        await engine.dispose()
