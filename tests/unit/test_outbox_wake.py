"""A wake that arrives while a worker pass is running is not lost: the rows committed after
that pass's claim get a pass of their own at once, not after poll_seconds (which cost every
outbox delivery, lab alerts and webhooks alike, up to a poll interval of latency)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from adapters.memory.store import InMemoryOutboxStore, InMemoryUnitOfWork, MemoryState
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage
from resolvers.outbox.worker import OutboxWorker, RetryPolicy, WorkerConfig


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


class Destination:
    def __init__(self) -> None:
        self.delivered = asyncio.Event()

    async def deliver(self, message: OutboxMessage) -> None:
        self.delivered.set()


async def test_a_commit_during_a_pass_wakes_the_next_pass() -> None:
    state = MemoryState()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    worker: OutboxWorker | None = None

    class CommitDuringClaim(InMemoryOutboxStore):
        """The first claim finds nothing; a commit (and its wake) lands while it runs."""

        claims = 0

        async def claim_due(self, **kwargs):  # type: ignore[no-untyped-def]
            self.claims += 1
            found = await super().claim_due(**kwargs)
            if self.claims == 1:
                async with InMemoryUnitOfWork(state, lambda: now) as uow:
                    await uow.outbox.enqueue([NewOutboxMessage("dest", {}, "k")])
                    await uow.commit()
                assert worker is not None
                worker.wake()
            return found

    destination = Destination()
    worker = OutboxWorker(CommitDuringClaim(state), {"dest": destination}, Clock(),
                          RetryPolicy(rng=random.Random(1)),
                          WorkerConfig(poll_seconds=30.0))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(destination.delivered.wait(), 2.0)  # not 30 s
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
