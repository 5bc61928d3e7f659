"""DHIS2 pushes kept in ``dhis2_pushes``; a new push and its outbox message in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.outbox import SqlOutboxWriter
from adapters.db.tables_public_health import Dhis2PushRow
from resolvers.outbox.model import NewOutboxMessage
from resolvers.public_health.dhis2.model import ImportStrategy, PushRecord, PushState

T = Dhis2PushRow.__table__  # type: ignore[attr-defined]


def _record(r: Any) -> PushRecord:
    return PushRecord(
        id=r.id, instance_url=r.instance_url, data_set=r.data_set, period=r.period,
        org_unit=r.org_unit, dry_run=bool(r.dry_run),
        import_strategy=ImportStrategy(r.import_strategy), state=PushState(r.state),
        payload=r.payload, created_by=r.created_by, created_at=r.created_at,
        updated_at=r.updated_at, attempts=r.attempts, summary=r.summary,
        last_error=r.last_error)


class SqlDhis2Pushes:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 now: Callable[[], datetime], on_commit: Callable[[], None] | None = None,
                 ) -> None:
        self._sessions = sessions
        self._now = now
        self._on_commit = on_commit

    async def create(self, push: PushRecord, message: NewOutboxMessage) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(insert(T).values(
                id=push.id, instance_url=push.instance_url, data_set=push.data_set,
                period=push.period, org_unit=push.org_unit, dry_run=push.dry_run,
                import_strategy=push.import_strategy.value, state=push.state.value,
                attempts=push.attempts, payload=push.payload, summary=push.summary,
                last_error=push.last_error, created_by=push.created_by[:200],
                created_at=push.created_at, updated_at=push.updated_at))
            await SqlOutboxWriter(session, self._now).enqueue([message])
        if self._on_commit is not None:
            self._on_commit()

    async def get(self, push_id: str) -> PushRecord | None:
        async with self._sessions() as session:
            row = (await session.execute(select(T).where(T.c.id == push_id))).first()
        return _record(row) if row is not None else None

    async def record(self, push_id: str, *, state: PushState, at: datetime,
                     summary: dict[str, Any] | None = None, error: str | None = None) -> None:
        values: dict[str, Any] = {"state": state.value, "updated_at": at,
                                  "attempts": T.c.attempts + 1,
                                  "last_error": error[:500] if error else None}
        if summary is not None:
            values["summary"] = summary
        async with self._sessions() as session, session.begin():
            await session.execute(update(T).where(T.c.id == push_id).values(**values))
