"""A paused outbox destination on each database: its rows are not claimed, stay pending with
their attempts untouched while other destinations flow, and are delivered in order once
resumed; a second worker process (its own engine) honours the same pause."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.engine import create_engine, session_factory
from adapters.db.outbox import SqlOutboxStore
from adapters.db.outbox_pauses import SqlPausedDestinations
from adapters.db.uow import SqlUnitOfWork
from composition import migrate_engine
from resolvers.outbox.model import (
    NewOutboxMessage,
    OutboxMessage,
    OutboxQuery,
    OutboxStatus,
    PausedDestination,
)
from resolvers.outbox.worker import OutboxWorker, RetryPolicy

pytestmark = pytest.mark.db


class Clock:
    def __init__(self) -> None:
        self.value = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value


class Received:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def deliver(self, message: OutboxMessage) -> None:
        self.keys.append(message.idempotency_key)


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        await migrate_engine(first)
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def _enqueue(engine: AsyncEngine, clock: Clock, destination: str, keys: list[str]) -> None:
    for key in keys:  # one commit each, a second apart: their order is their due order
        async with SqlUnitOfWork(session_factory(engine), clock.now) as uow:
            await uow.outbox.enqueue([NewOutboxMessage(destination, {"k": key}, key)])
            await uow.commit()
        clock.value += timedelta(seconds=1)


async def test_a_paused_destination_waits_and_is_delivered_in_order_once_resumed(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    clock, dhis2, medplum = Clock(), Received(), Received()
    pauses = SqlPausedDestinations(session_factory(engines[0]))
    assert await pauses.pause(PausedDestination("dhis2", clock.now(), "ops@site", "upgrade"))
    assert not await pauses.pause(PausedDestination("dhis2", clock.now(), "other", None))
    (paused,) = await pauses.paused()
    assert (paused.destination, paused.paused_by, paused.reason) == ("dhis2", "ops@site",
                                                                     "upgrade")
    assert paused.paused_at == clock.now()

    await _enqueue(engines[0], clock, "dhis2", ["d1", "d2", "d3"])
    await _enqueue(engines[0], clock, "medplum", ["m1"])
    # Two workers on two engines, as two processes would be: both honour the pause.
    workers = [OutboxWorker(SqlOutboxStore(session_factory(e)),
                            {"dhis2": dhis2, "medplum": medplum}, clock,
                            RetryPolicy(max_attempts=1)) for e in engines]
    for _ in range(3):
        for worker in workers:
            await worker.run_once()
        clock.value += timedelta(hours=1)  # long past any backoff: nothing is retried
    assert medplum.keys == ["m1"] and dhis2.keys == []
    store = SqlOutboxStore(session_factory(engines[1]))
    waiting = await store.search(OutboxQuery(destination="dhis2"))
    assert [(m.status, m.attempts, m.last_error) for m in waiting] == [
        (OutboxStatus.PENDING, 0, None)] * 3

    assert await pauses.resume("dhis2")
    assert not await pauses.resume("dhis2")
    assert await workers[1].run_once() == 3
    assert dhis2.keys == ["d1", "d2", "d3"]
    delivered = await store.search(OutboxQuery(destination="dhis2"))
    assert [(m.status, m.attempts) for m in delivered] == [(OutboxStatus.DELIVERED, 1)] * 3
    assert await pauses.paused() == []
