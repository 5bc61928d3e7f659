"""The webhook inbox on SQL: event rows (inside a unit of work), suppressions and leads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import insert_for
from adapters.db.tables_webhooks import EmailSuppressionRow, LeadRow, WebhookEventRow
from resolvers.ids import new_id
from resolvers.webhooks.model import Lead, WebhookEvent, WebhookEventQuery

T = WebhookEventRow.__table__  # type: ignore[attr-defined]
# The statements the inbox worker runs for every event, built once: building a select or an
# update and its cache key anew each time was about a tenth of the CPU of webhook intake
# with its processing on SQLite.
_GET = select(T).where(T.c.id == bindparam("row_id"))
_SET_STATUS = update(T).where(T.c.id == bindparam("row_id")).values(
    status=bindparam("new_status"), attempts=bindparam("new_attempts"),
    last_error=bindparam("new_last_error"), processed_at=bindparam("new_processed_at"))
S = EmailSuppressionRow.__table__  # type: ignore[attr-defined]
L = LeadRow.__table__  # type: ignore[attr-defined]


def _to_domain(r: Any) -> WebhookEvent:
    return WebhookEvent(
        id=r["id"], provider=r["provider"], event_id=r["event_id"], event_type=r["event_type"],
        subject_id=r["subject_id"], payload=r["payload"], status=r["status"],
        attempts=r["attempts"], last_error=r["last_error"], received_at=r["received_at"],
        processed_at=r["processed_at"])


class SqlWebhookEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: WebhookEvent) -> bool:
        stmt = insert_for(self._session)(T).values(
            id=event.id, provider=event.provider, event_id=event.event_id,
            event_type=event.event_type, subject_id=event.subject_id,
            payload=dict(event.payload), status=event.status, attempts=event.attempts,
            last_error=event.last_error, received_at=event.received_at,
            processed_at=event.processed_at,
        ).on_conflict_do_nothing(index_elements=["provider", "event_id"]).returning(T.c.id)
        return (await self._session.execute(stmt)).scalar_one_or_none() is not None

    async def add_many(self, events: Sequence[WebhookEvent]) -> set[str]:
        """One multi-row insert; answers the ids stored (the others were already there)."""
        if not events:
            return set()
        # executemany of one statement (cached; batched into multi-row VALUES when it runs)
        # rather than a .values(list), which is compiled anew for every batch.
        stmt = insert_for(self._session)(T).on_conflict_do_nothing(
            index_elements=["provider", "event_id"]).returning(T.c.id)
        rows = [{"id": e.id, "provider": e.provider, "event_id": e.event_id,
                 "event_type": e.event_type, "subject_id": e.subject_id,
                 "payload": dict(e.payload), "status": e.status, "attempts": e.attempts,
                 "last_error": e.last_error, "received_at": e.received_at,
                 "processed_at": e.processed_at} for e in events]
        return {row[0] for row in await self._session.execute(stmt, rows)}

    async def get_by_keys(self, keys: Sequence[tuple[str, str]],
                          ) -> dict[tuple[str, str], WebhookEvent]:
        if not keys:
            return {}
        rows = (await self._session.execute(select(T).where(
            tuple_(T.c.provider, T.c.event_id).in_(sorted(set(keys)))))).mappings()
        return {(r["provider"], r["event_id"]): _to_domain(r) for r in rows}

    async def get(self, event_id: str) -> WebhookEvent | None:
        row = (await self._session.execute(_GET, {"row_id": event_id})).mappings().first()
        return _to_domain(row) if row is not None else None

    async def get_by_key(self, provider: str, provider_event_id: str) -> WebhookEvent | None:
        stmt = select(T).where(T.c.provider == provider, T.c.event_id == provider_event_id)
        row = (await self._session.execute(stmt)).mappings().first()
        return _to_domain(row) if row is not None else None

    async def search(self, query: WebhookEventQuery) -> list[WebhookEvent]:
        stmt = select(T).order_by(T.c.id.desc()).limit(query.limit)
        if query.provider:
            stmt = stmt.where(T.c.provider == query.provider)
        if query.status:
            stmt = stmt.where(T.c.status == query.status.value)
        if query.after:
            stmt = stmt.where(T.c.id < query.after)
        return [_to_domain(r) for r in (await self._session.execute(stmt)).mappings()]

    async def set_status(self, event_id: str, *, status: str, attempts: int,
                         last_error: str | None, processed_at: datetime | None) -> None:
        await self._session.execute(_SET_STATUS, {
            "row_id": event_id, "new_status": status, "new_attempts": attempts,
            "new_last_error": last_error, "new_processed_at": processed_at})


class SqlSuppressionList:
    """Each call is its own transaction (handlers run outside any unit of work)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now

    async def suppress(self, addresses: list[str], *, reason: str, webhook_event_id: str) -> None:
        if not addresses:
            return
        now = self._now()
        async with self._sessions() as session:
            await session.execute(insert_for(session)(S).values([
                {"address": a, "reason": reason, "webhook_event_id": webhook_event_id,
                 "created_at": now} for a in addresses]).on_conflict_do_nothing(
                index_elements=["address"]))
            await session.commit()

    async def is_suppressed(self, address: str) -> bool:
        stmt = select(S.c.address).where(S.c.address == address.strip().lower())
        async with self._sessions() as session:
            return (await session.execute(stmt)).first() is not None


class SqlLeadStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now

    async def add(self, lead: Lead) -> None:
        async with self._sessions() as session:
            await session.execute(insert_for(session)(L).values(
                id=new_id(), webhook_event_id=lead.webhook_event_id, source=lead.source,
                name=lead.name, email=lead.email, phone=lead.phone,
                organisation=lead.organisation, country=lead.country, message=lead.message,
                consent=lead.consent, created_at=self._now(),
            ).on_conflict_do_nothing(index_elements=["webhook_event_id"]))
            await session.commit()
