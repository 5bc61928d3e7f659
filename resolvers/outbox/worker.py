"""OutboxWorker: claims due messages, delivers them, retries with backoff, dead-letters.

Claims are leases: a worker that dies mid-delivery leaves the row ``in_flight`` with an
expired lease, and the next claim picks it up again with the same idempotency key. So a
crash never loses a delivery, and a destination that honours the key never sees a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from resolvers.clock import Clock
from resolvers.ids import new_id
from resolvers.outbox.delivery import DeliveryHandler, PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage
from resolvers.outbox.ports import OutboxStore

log = logging.getLogger("cari.outbox")

MAX_ERROR_LENGTH = 500


class Retries(Protocol):
    """How many attempts a message gets, and how long to wait after each failed one."""

    @property
    def max_attempts(self) -> int: ...

    def delay(self, attempts: int) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_seconds: float = 2.0
    max_seconds: float = 3600.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempts: int) -> float:
        """Exponential backoff with equal jitter: between half and all of base * 2^(n-1)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempts - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 20
    poll_seconds: float = 1.0
    lease_seconds: float = 60.0


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        handlers: Mapping[str, DeliveryHandler],
        clock: Clock,
        policy: RetryPolicy,
        config: WorkerConfig | None = None,
        policies: Mapping[str, Retries] | None = None,
    ) -> None:
        self._store = store
        self._handlers = dict(handlers)
        self._clock = clock
        self._policy = policy
        # Destinations with a schedule of their own (webhook deliveries); the rest use policy.
        self._policies: dict[str, Retries] = dict(policies or {})
        self._config = config or WorkerConfig()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for an immediate pass (called after new messages commit in this process)."""
        self._wake.set()

    async def run_once(self) -> int:
        now = self._clock.now()
        token = new_id()
        messages = await self._store.claim_due(
            now=now,
            limit=self._config.batch_size,
            lease_until=now + timedelta(seconds=self._config.lease_seconds),
            claim_token=token,
        )
        if messages:
            outcomes = await asyncio.gather(*(self._deliver(m, token) for m in messages))
            # The pass's deliveries are settled together, in one transaction: under load a
            # commit per message would queue for the database behind the intake it serves.
            # Until then their claim's lease keeps them from being taken again.
            delivered = [m for m, ok in zip(messages, outcomes, strict=True) if ok]
            if delivered:
                await self._store.mark_delivered_many([m.id for m in delivered], token,
                                                      self._clock.now())
                for m in delivered:
                    log.info("outbox delivered", extra={"outbox_id": m.id,
                                                         "destination": m.destination,
                                                         "attempt": m.attempts + 1})
        return len(messages)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; a pass in progress is finished first."""
        while not stop.is_set():
            # Cleared before the pass, not after: a commit that wakes the worker while a pass
            # is running (its rows committed after that pass's claim) gets a pass of its own
            # at once, instead of waiting out poll_seconds.
            self._wake.clear()
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("outbox pass failed; will retry")
                handled = 0
            if handled:
                continue
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(
                waiters, timeout=self._config.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

    async def _deliver(self, message: OutboxMessage, token: str) -> bool:
        """Deliver; a failure is settled here, a success by the caller (True)."""
        handler = self._handlers.get(message.destination)
        attempts = message.attempts + 1
        try:
            if handler is None:
                raise PermanentDeliveryError(f"no handler registered for {message.destination!r}")
            # The lease bounds how long a delivery may take before another worker retries it.
            await asyncio.wait_for(handler.deliver(message), self._config.lease_seconds * 0.8)
        except Exception as exc:
            permanent = isinstance(exc, PermanentDeliveryError)
            policy = self._policies.get(message.destination, self._policy)
            dead = permanent or attempts >= policy.max_attempts
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
            next_at = self._clock.now() + timedelta(seconds=policy.delay(attempts))
            await self._store.mark_failed(
                message.id, token, error=error, next_attempt_at=next_at, dead=dead
            )
            log.warning(
                "outbox delivery failed",
                extra={"outbox_id": message.id, "destination": message.destination,
                       "attempt": attempts, "dead_letter": dead, "error_type": type(exc).__name__},
            )
            return False
        return True
