"""The refused messages on SQL (table refused_messages, migration 0020): one INSERT per kept
refusal, and the prune that bounds the table by age and by row count."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.tables_refused import RefusedMessageRow
from resolvers.operations.messages.records import RefusedMessage

R = RefusedMessageRow.__table__  # type: ignore[attr-defined]


class SqlRefusedMessages:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, message: RefusedMessage) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(R).values(**asdict(message)))

    async def prune(self, *, before: datetime, keep: int) -> int:
        async with self._engine.begin() as conn:
            # The newest row beyond the ceiling: it and everything older go.
            edge = (await conn.execute(
                select(R.c.received_at, R.c.id)
                .order_by(R.c.received_at.desc(), R.c.id.desc()).offset(keep).limit(1))).first()
            condition = R.c.received_at < before
            if edge is not None:
                condition = or_(condition, tuple_(R.c.received_at, R.c.id)
                                <= tuple_(edge.received_at, edge.id))
            gone = await conn.execute(delete(R).where(condition))
            return int(gone.rowcount or 0)


def refused_message(row: object) -> RefusedMessage:
    """A row (a mapping of the table's columns) as the record."""
    return RefusedMessage(**dict(row))  # type: ignore[call-overload]
