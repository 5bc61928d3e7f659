"""Ports of the outbox: writing messages inside a unit of work, and the store the worker and
the admin routes use (each call its own transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from resolvers.outbox.model import (
    DestinationDepth,
    NewOutboxMessage,
    OutboxMessage,
    OutboxQuery,
    PausedDestination,
)


class OutboxWriter(Protocol):
    async def enqueue(self, messages: Sequence[NewOutboxMessage]) -> list[str]:
        """Add messages; a repeated (destination, idempotency_key) is ignored. Returns ids."""
        ...


class OutboxStore(Protocol):
    """What the outbox worker and the admin routes need; each call is its own transaction."""

    async def claim_due(
        self, *, now: datetime, limit: int, lease_until: datetime, claim_token: str
    ) -> list[OutboxMessage]: ...
    async def mark_delivered(self, message_id: str, claim_token: str, at: datetime) -> bool: ...
    async def mark_delivered_many(self, message_ids: Sequence[str], claim_token: str,
                                  at: datetime) -> int:
        """mark_delivered for the messages of one claim, in one transaction; the count."""
        ...
    async def mark_failed(
        self,
        message_id: str,
        claim_token: str,
        *,
        error: str,
        next_attempt_at: datetime,
        dead: bool,
    ) -> bool: ...
    async def replay(self, message_ids: Sequence[str] | None, now: datetime) -> int:
        """Move dead letters (all, or the given ones) back to pending; returns the count."""
        ...
    async def search(self, query: OutboxQuery) -> list[OutboxMessage]: ...
    async def counts(self) -> dict[str, int]: ...


class OutboxStatistics(Protocol):
    async def depth_by_destination(self) -> list[DestinationDepth]:
        """Every destination with rows, by state, ordered by name."""
        ...


class PausedDestinations(Protocol):
    """The per-destination switch, kept in the database so every worker process honours it."""

    async def pause(self, paused: PausedDestination) -> bool:
        """Record the pause; False (nothing changed) when the destination is already paused."""
        ...
    async def resume(self, destination: str) -> bool:
        """Lift the pause; False when the destination was not paused."""
        ...
    async def paused(self) -> list[PausedDestination]:
        """Every paused destination, by name."""
        ...
