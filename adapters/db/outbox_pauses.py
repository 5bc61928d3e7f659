"""Paused outbox destinations on SQL (table outbox_paused_destinations, migration 0021).
The outbox claim (adapters/db/outbox.py) reads the same table in its own statement, so every
worker process, on any host, honours a pause from its next pass."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import insert_for
from adapters.db.tables_outbox_pauses import PausedDestinationRow
from resolvers.outbox.model import PausedDestination

P = PausedDestinationRow.__table__  # type: ignore[attr-defined]


def _to_domain(r: Any) -> PausedDestination:
    return PausedDestination(destination=r["destination"], paused_at=r["paused_at"],
                             paused_by=r["paused_by"], reason=r["reason"])


class SqlPausedDestinations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def pause(self, paused: PausedDestination) -> bool:
        # ON CONFLICT DO NOTHING: two operators pausing at once leave the first pause.
        async with self._sessions() as session:
            stmt = insert_for(session)(P).values(
                destination=paused.destination, paused_at=paused.paused_at,
                paused_by=paused.paused_by, reason=paused.reason,
            ).on_conflict_do_nothing(index_elements=["destination"])
            result = await session.execute(stmt)
            await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def resume(self, destination: str) -> bool:
        async with self._sessions() as session:
            result = await session.execute(delete(P).where(P.c.destination == destination))
            await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def paused(self) -> list[PausedDestination]:
        async with self._sessions() as session:
            rows = (await session.execute(select(P).order_by(P.c.destination))).mappings()
            return [_to_domain(r) for r in rows]
