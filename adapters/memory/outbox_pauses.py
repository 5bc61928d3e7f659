"""Paused outbox destinations in memory: the twin of adapters/db/outbox_pauses.py.

The pauses live in the shared MemoryState, which InMemoryOutboxStore.claim_due reads, so a
paused destination's rows are not claimed here either (tests/contract holds both to it)."""

from __future__ import annotations

from adapters.memory.store import MemoryState
from resolvers.outbox.model import PausedDestination


class InMemoryPausedDestinations:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def pause(self, paused: PausedDestination) -> bool:
        async with self._state.lock:  # the first pause stays, as ON CONFLICT DO NOTHING
            if paused.destination in self._state.paused:
                return False
            self._state.paused[paused.destination] = paused
            return True

    async def resume(self, destination: str) -> bool:
        async with self._state.lock:
            return self._state.paused.pop(destination, None) is not None

    async def paused(self) -> list[PausedDestination]:
        return [self._state.paused[d] for d in sorted(self._state.paused)]
