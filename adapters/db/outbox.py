"""The outbox on SQL: a writer inside the business transaction, a store for the worker.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``
statement: on PostgreSQL concurrent workers skip each other's rows; on SQLite the single
writer lock makes the statement atomic on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import INSERT_BY_DIALECT, dialect_name
from adapters.db.tables import OutboxRow
from adapters.db.tables_outbox_pauses import PausedDestinationRow
from adapters.db.tables_webhook_subscriptions import WebhookEndpointRow
from resolvers.ids import new_id
from resolvers.notifications.model import WEBHOOK_FANOUT, batch_fanout, wanted_events
from resolvers.outbox.model import (
    DestinationDepth,
    NewOutboxMessage,
    OutboxMessage,
    OutboxQuery,
    OutboxStatus,
    depths_from_groups,
)

T = OutboxRow.__table__  # type: ignore[attr-defined]
_PAUSED = PausedDestinationRow.__table__  # type: ignore[attr-defined]
_ENDPOINTS = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
# Every endpoint's filters, read in the writing transaction (a handful of rows).
_SUBSCRIPTIONS = select(_ENDPOINTS.c.event_types, _ENDPOINTS.c.resource_types)
# The enqueue statement of each dialect, built once: every write that announces something
# runs it, and building the ON CONFLICT insert and its cache key anew was more work than
# binding its rows.
_ENQUEUE = {name: insert(T).on_conflict_do_nothing(index_elements=["destination",
                                                                   "idempotency_key"])
            .returning(T.c.id) for name, insert in INSERT_BY_DIALECT.items()}


def _to_domain(r: Any) -> OutboxMessage:
    return OutboxMessage(
        id=r["id"], destination=r["destination"], payload=r["payload"],
        idempotency_key=r["idempotency_key"], status=OutboxStatus(r["status"]),
        attempts=r["attempts"], next_attempt_at=r["next_attempt_at"], created_at=r["created_at"],
        last_error=r["last_error"], delivered_at=r["delivered_at"], claim_token=r["claim_token"],
    )


class SqlOutboxWriter:
    def __init__(self, session: AsyncSession, now: Any) -> None:
        self._session = session
        self._now = now
        # The endpoints' filters, read once per unit of work: a lab message batch enqueues
        # twice (its FHIR resources' events, then its own), and both see the same endpoints.
        self._subscribed: list[Any] | None = None

    async def enqueue(self, messages: Sequence[NewOutboxMessage]) -> list[str]:
        if not messages:
            return []
        if any(m.destination == WEBHOOK_FANOUT for m in messages):
            # Only events some endpoint wants, then a write's events as one row.
            if self._subscribed is None:
                self._subscribed = list((await self._session.execute(_SUBSCRIPTIONS)).all())
            messages = batch_fanout(wanted_events(messages, self._subscribed))
            if not messages:
                return []
        now: datetime = self._now()
        rows = [
            {"id": new_id(), "destination": m.destination, "payload": m.payload,
             "idempotency_key": m.idempotency_key, "status": OutboxStatus.PENDING.value,
             "attempts": 0, "next_attempt_at": now, "created_at": now}
            for m in messages
        ]
        # executemany of one cached statement (see SqlWebhookEventRepository.add_many).
        stmt = _ENQUEUE[dialect_name(self._session)]
        return list((await self._session.execute(stmt, rows)).scalars())


class SqlOutboxStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim_due(
        self, *, now: datetime, limit: int, lease_until: datetime, claim_token: str
    ) -> list[OutboxMessage]:
        due = or_(
            and_(T.c.status == OutboxStatus.PENDING.value, T.c.next_attempt_at <= now),
            # A worker died mid-delivery: its lease ran out, so the row is due again.
            and_(T.c.status == OutboxStatus.IN_FLIGHT.value, T.c.lease_until <= now),
        )
        # A paused destination's rows are not claimed (they stay as they are, see
        # resolvers/outbox/destinations.py): the pause table has a handful of rows, so this
        # is a hashed NOT IN beside the ix_outbox_due range, in the same statement.
        running = T.c.destination.not_in(select(_PAUSED.c.destination))
        candidates = (
            select(T.c.id).where(due, running).order_by(T.c.next_attempt_at).limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(T).where(T.c.id.in_(candidates.scalar_subquery()))
            .values(status=OutboxStatus.IN_FLIGHT.value, lease_until=lease_until,
                    claim_token=claim_token)
            .returning(*T.c)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).mappings().all()
            await session.commit()
        return sorted((_to_domain(r) for r in rows), key=lambda m: m.next_attempt_at)

    async def mark_delivered(self, message_id: str, claim_token: str, at: datetime) -> bool:
        return await self._finish(message_id, claim_token, {
            "status": OutboxStatus.DELIVERED.value, "delivered_at": at,
            "attempts": T.c.attempts + 1, "last_error": None, "lease_until": None,
        })

    async def mark_delivered_many(self, message_ids: Sequence[str], claim_token: str,
                                  at: datetime) -> int:
        if not message_ids:
            return 0
        stmt = update(T).where(
            T.c.id.in_(list(message_ids)), T.c.claim_token == claim_token,
            T.c.status == OutboxStatus.IN_FLIGHT.value,
        ).values(status=OutboxStatus.DELIVERED.value, delivered_at=at,
                 attempts=T.c.attempts + 1, last_error=None, lease_until=None)
        async with self._sessions() as session:
            result = await session.execute(stmt)
            await session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def mark_failed(
        self, message_id: str, claim_token: str, *, error: str, next_attempt_at: datetime,
        dead: bool,
    ) -> bool:
        return await self._finish(message_id, claim_token, {
            "status": (OutboxStatus.DEAD if dead else OutboxStatus.PENDING).value,
            "attempts": T.c.attempts + 1, "last_error": error,
            "next_attempt_at": next_attempt_at, "lease_until": None,
        })

    async def _finish(self, message_id: str, claim_token: str, values: dict[str, Any]) -> bool:
        # Only the holder of the current claim may settle the row: a worker whose lease
        # expired and was re-claimed must not overwrite the newer attempt's outcome.
        stmt = update(T).where(
            T.c.id == message_id, T.c.claim_token == claim_token,
            T.c.status == OutboxStatus.IN_FLIGHT.value,
        ).values(**values)
        async with self._sessions() as session:
            result = await session.execute(stmt)
            await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def replay(self, message_ids: Sequence[str] | None, now: datetime) -> int:
        stmt = update(T).where(T.c.status == OutboxStatus.DEAD.value).values(
            status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, claim_token=None)
        if message_ids is not None:
            stmt = stmt.where(T.c.id.in_(list(message_ids)))
        async with self._sessions() as session:
            result = await session.execute(stmt)
            await session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def search(self, query: OutboxQuery) -> list[OutboxMessage]:
        stmt = select(T).order_by(T.c.id).limit(query.limit)
        if query.status:
            stmt = stmt.where(T.c.status == query.status.value)
        if query.destination:
            stmt = stmt.where(T.c.destination == query.destination)
        if query.after:
            stmt = stmt.where(T.c.id > query.after)
        if query.failing:
            stmt = stmt.where(T.c.last_error.is_not(None))
        async with self._sessions() as session:
            return [_to_domain(r) for r in (await session.execute(stmt)).mappings()]

    async def counts(self) -> dict[str, int]:
        stmt = select(T.c.status, func.count()).group_by(T.c.status)
        async with self._sessions() as session:
            found = {str(s): int(n) for s, n in (await session.execute(stmt)).all()}
        return {s.value: found.get(s.value, 0) for s in OutboxStatus}

    async def depth_by_destination(self) -> list[DestinationDepth]:
        # Undelivered rows are few and found by ix_outbox_due; delivered ones are most of the
        # table, so they are never counted whole: the destinations are a skip scan of
        # ix_outbox_destination_delivered and each one's last hour and last delivery are
        # ranges of it (migration 0019).
        since = datetime.now(UTC) - timedelta(hours=1)
        failing = and_(T.c.status == OutboxStatus.PENDING.value, T.c.last_error.is_not(None))
        undelivered = (select(T.c.destination, T.c.status, failing.label("failing"), func.count())
                       .where(T.c.status.in_([OutboxStatus.PENDING.value,
                                              OutboxStatus.IN_FLIGHT.value,
                                              OutboxStatus.DEAD.value]))
                       .group_by(T.c.destination, T.c.status, failing))
        async with self._sessions() as session:
            groups = (await session.execute(undelivered)).all()
            delivered = (await session.execute(_DELIVERED_BY_DESTINATION, {
                "delivered": OutboxStatus.DELIVERED.value, "since": since})).all()
        return depths_from_groups(
            ((str(d), str(s), bool(f), int(n)) for d, s, f, n in groups),
            ((str(d), int(n), _aware(last)) for d, n, last in delivered))


def _aware(value: Any) -> datetime | None:
    """A text SELECT does not go through UTCDateTime: SQLite answers a naive string."""
    if value is None:
        return None
    parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# Every destination (a recursive skip scan: one index probe per destination), with its
# deliveries since :since and its last delivery. The same SQL on SQLite and PostgreSQL.
_DELIVERED_BY_DESTINATION = text("""
WITH RECURSIVE destinations(name) AS (
    SELECT min(destination) FROM outbox_messages
    UNION ALL
    SELECT (SELECT min(destination) FROM outbox_messages WHERE destination > destinations.name)
    FROM destinations WHERE destinations.name IS NOT NULL
)
SELECT name,
       (SELECT count(*) FROM outbox_messages WHERE destination = destinations.name
          AND status = :delivered AND delivered_at >= :since),
       (SELECT max(delivered_at) FROM outbox_messages WHERE destination = destinations.name
          AND status = :delivered)
FROM destinations WHERE name IS NOT NULL
""")
