"""Admin use cases on the outbox: inspect messages, replay dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from resolvers.clock import Clock
from resolvers.outbox.model import OutboxMessage, OutboxQuery
from resolvers.outbox.ports import OutboxStore
from resolvers.principal import Caller, require_role

MAX_PAGE = 200


class OutboxAdmin:
    def __init__(self, store: OutboxStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def search(self, caller: Caller, query: OutboxQuery) -> list[OutboxMessage]:
        require_role(caller)
        return await self._store.search(replace(query, limit=max(1, min(query.limit, MAX_PAGE))))

    async def replay(self, caller: Caller, message_ids: Sequence[str] | None) -> int:
        require_role(caller)
        return await self._store.replay(message_ids, self._clock.now())

    async def counts(self) -> dict[str, int]:
        return await self._store.counts()
