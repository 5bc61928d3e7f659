"""OutboxWorker against the in-memory store: retries, backoff, dead letters, leases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from adapters.memory.store import InMemoryOutboxStore, InMemoryUnitOfWork, MemoryState
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage, OutboxStatus
from resolvers.outbox.worker import OutboxWorker, RetryPolicy, WorkerConfig


class FakeClock:
    def __init__(self) -> None:
        self.value = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


class RecordingDestination:
    """Fails the first ``failures`` attempts, then accepts; dedupes by idempotency key."""

    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.attempts: list[str] = []
        self.accepted: dict[str, dict] = {}

    async def deliver(self, message: OutboxMessage) -> None:
        self.attempts.append(message.idempotency_key)
        if self.permanent:
            raise PermanentDeliveryError("422 from destination")
        if len(self.attempts) <= self.failures:
            raise ConnectionError("destination down")
        self.accepted.setdefault(message.idempotency_key, message.payload)


async def _enqueue(state: MemoryState, clock: FakeClock, n: int = 1) -> None:
    async with InMemoryUnitOfWork(state, clock.now) as uow:
        await uow.outbox.enqueue([NewOutboxMessage("dest", {"n": i}, f"key-{i}") for i in range(n)])
        await uow.commit()


def _worker(state, clock, dest, max_attempts=5) -> OutboxWorker:
    return OutboxWorker(InMemoryOutboxStore(state), {"dest": dest}, clock,
                        RetryPolicy(max_attempts=max_attempts, base_seconds=2, max_seconds=60,
                                    rng=random.Random(1)),
                        WorkerConfig(lease_seconds=30))


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=60, rng=random.Random(7))
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (4, 16), (10, 60)):
        delay = policy.delay(attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(policy.delay(3), 6) for _ in range(20)}) > 1  # jittered


async def test_transient_failures_are_retried_after_backoff_then_delivered() -> None:
    state, clock, dest = MemoryState(), FakeClock(), RecordingDestination(failures=2)
    await _enqueue(state, clock)
    worker = _worker(state, clock, dest)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0  # not due yet: backing off
    clock.advance(2)
    assert await worker.run_once() == 1
    clock.advance(4)
    assert await worker.run_once() == 1
    (message,) = state.outbox.values()
    assert message.status == OutboxStatus.DELIVERED and message.attempts == 3
    assert dest.attempts == ["key-0"] * 3 and list(dest.accepted) == ["key-0"]


async def test_dead_letter_after_max_attempts_and_replay_delivers() -> None:
    state, clock, dest = MemoryState(), FakeClock(), RecordingDestination(failures=3)
    await _enqueue(state, clock)
    worker = _worker(state, clock, dest, max_attempts=3)
    for _ in range(3):
        await worker.run_once()
        clock.advance(120)
    (message,) = state.outbox.values()
    assert message.status == OutboxStatus.DEAD and message.attempts == 3
    assert "destination down" in (message.last_error or "")
    assert await worker.run_once() == 0  # dead letters are never picked up by themselves
    store = InMemoryOutboxStore(state)
    assert await store.replay(None, clock.now()) == 1
    assert await worker.run_once() == 1
    assert next(iter(state.outbox.values())).status == OutboxStatus.DELIVERED


async def test_permanent_refusal_dead_letters_at_once() -> None:
    state, clock, dest = MemoryState(), FakeClock(), RecordingDestination(permanent=True)
    await _enqueue(state, clock)
    await _worker(state, clock, dest).run_once()
    assert next(iter(state.outbox.values())).status == OutboxStatus.DEAD
    assert len(dest.attempts) == 1


async def test_unknown_destination_dead_letters_with_reason() -> None:
    state, clock = MemoryState(), FakeClock()
    async with InMemoryUnitOfWork(state, clock.now) as uow:
        await uow.outbox.enqueue([NewOutboxMessage("nowhere", {}, "k")])
        await uow.commit()
    await _worker(state, clock, RecordingDestination()).run_once()
    (message,) = state.outbox.values()
    assert message.status == OutboxStatus.DEAD and "no handler" in (message.last_error or "")


async def test_crash_mid_delivery_is_redelivered_with_same_key_after_lease() -> None:
    state, clock, dest = MemoryState(), FakeClock(), RecordingDestination()
    await _enqueue(state, clock)
    store = InMemoryOutboxStore(state)
    # A worker claims and "dies" before settling: nothing is delivered or marked.
    claimed = await store.claim_due(now=clock.now(), limit=10,
                                    lease_until=clock.now() + timedelta(seconds=30),
                                    claim_token="dead-worker")
    assert len(claimed) == 1
    worker = _worker(state, clock, dest)
    assert await worker.run_once() == 0  # lease still held
    clock.advance(31)
    assert await worker.run_once() == 1
    assert dest.attempts == ["key-0"]
    # The dead worker wakes up late: its settle is refused, the newer outcome stands.
    assert not await store.mark_failed(claimed[0].id, "dead-worker", error="late",
                                       next_attempt_at=clock.now(), dead=True)
    assert next(iter(state.outbox.values())).status == OutboxStatus.DELIVERED


async def test_same_idempotency_key_is_enqueued_once() -> None:
    state, clock = MemoryState(), FakeClock()
    await _enqueue(state, clock, n=2)
    await _enqueue(state, clock, n=3)
    assert sorted(m.idempotency_key for m in state.outbox.values()) == ["key-0", "key-1", "key-2"]
