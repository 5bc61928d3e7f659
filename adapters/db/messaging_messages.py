"""Scheduled WhatsApp messages: one row per key, claimed by senders with a lease.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``
(as the outbox does): on PostgreSQL concurrent senders skip each other's rows, on SQLite the
single writer lock makes it atomic. Settling compares the claim token, so a sender whose
lease ran out cannot overwrite the outcome of the one that took the row over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import insert_for
from adapters.db.outbox import SqlOutboxWriter
from adapters.db.tables_messaging import WhatsAppMessageRow
from resolvers.messaging.model import (
    DELIVERY_RANK,
    MessageKind,
    MessageQuery,
    MessageStatus,
    Purpose,
    StatusUpdate,
    StoredMessage,
    TemplateCall,
)
from resolvers.outbox.model import NewOutboxMessage

M = WhatsAppMessageRow.__table__  # type: ignore[attr-defined]
Announce = Callable[[StoredMessage], Sequence[NewOutboxMessage]]


def _content(m: StoredMessage) -> dict[str, Any]:
    if m.template is not None:
        return {"body_params": list(m.template.body_params),
                "header_params": list(m.template.header_params),
                "button_payloads": list(m.template.button_payloads)}
    return {"text": m.text or ""}


def _message(r: Any) -> StoredMessage:
    content = r.content or {}
    template = None
    if r.kind == MessageKind.TEMPLATE.value:
        template = TemplateCall(name=r.template_name or "", language=r.language or "",
                                body_params=tuple(content.get("body_params", ())),
                                header_params=tuple(content.get("header_params", ())),
                                button_payloads=tuple(content.get("button_payloads", ())))
    return StoredMessage(
        id=r.id, key=r.key, purpose=Purpose(r.purpose), kind=MessageKind(r.kind),
        patient_id=r.patient_id, phone=r.phone, template=template,
        text=content.get("text"), requires_consent=bool(r.requires_consent),
        status=MessageStatus(r.status), reason=r.reason, error_code=r.error_code,
        send_at=r.send_at, next_attempt_at=r.next_attempt_at, attempts=r.attempts,
        wamid=r.wamid, status_at=r.status_at, created_by=r.created_by,
        created_at=r.created_at, updated_at=r.updated_at)


def _row(m: StoredMessage) -> dict[str, Any]:
    return {"id": m.id, "key": m.key[:300], "purpose": m.purpose.value, "kind": m.kind.value,
            "patient_id": m.patient_id, "phone": m.phone,
            "template_name": m.template.name if m.template else None,
            "language": m.template.language if m.template else None,
            "content": _content(m), "requires_consent": m.requires_consent,
            "status": m.status.value, "reason": (m.reason or None) and m.reason[:500],
            "error_code": m.error_code, "send_at": m.send_at,
            "next_attempt_at": m.next_attempt_at, "attempts": m.attempts,
            "claim_token": None, "lease_until": None, "wamid": m.wamid,
            "status_at": m.status_at, "created_by": m.created_by[:200],
            "created_at": m.created_at, "updated_at": m.updated_at}


class SqlMessages:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 now: Callable[[], datetime], on_commit: Callable[[], None] | None = None,
                 ) -> None:
        self._sessions = sessions
        self._now = now
        self._on_commit = on_commit

    async def insert(self, messages: Sequence[StoredMessage],
                     events: Sequence[NewOutboxMessage] = ()) -> list[StoredMessage]:
        if not messages:
            return []
        async with self._sessions() as session, session.begin():
            stmt = insert_for(session)(M).on_conflict_do_nothing(index_elements=["key"])
            await session.execute(stmt, [_row(m) for m in messages])
            rows = (await session.execute(select(M).where(
                M.c.key.in_([m.key[:300] for m in messages])))).all()
            if events:
                await SqlOutboxWriter(session, self._now).enqueue(list(events))
        by_key = {r.key: _message(r) for r in rows}
        return [by_key[m.key[:300]] for m in messages]

    async def get(self, message_id: str) -> StoredMessage | None:
        return await self._one(M.c.id == message_id)

    async def by_wamid(self, wamid: str) -> StoredMessage | None:
        return await self._one(M.c.wamid == wamid)

    async def _one(self, where: Any) -> StoredMessage | None:
        async with self._sessions() as session:
            row = (await session.execute(select(M).where(where))).first()
        return _message(row) if row is not None else None

    async def search(self, query: MessageQuery) -> list[StoredMessage]:
        stmt = select(M).order_by(M.c.id.desc()).limit(query.limit)
        if query.patient_id is not None:
            stmt = stmt.where(M.c.patient_id == query.patient_id)
        if query.status is not None:
            stmt = stmt.where(M.c.status == query.status.value)
        if query.purpose is not None:
            stmt = stmt.where(M.c.purpose == query.purpose.value)
        if query.after is not None:
            stmt = stmt.where(M.c.id < query.after)
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [_message(r) for r in rows]

    async def cancel(self, *, key_prefix: str | None = None, message_id: str | None = None,
                     at: datetime) -> int:
        stmt = update(M).where(M.c.status == MessageStatus.SCHEDULED.value).values(
            status=MessageStatus.CANCELLED.value, reason="cancelled", updated_at=at)
        if key_prefix is not None:
            escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(M.c.key.like(escaped + "%", escape="\\"))
        if message_id is not None:
            stmt = stmt.where(M.c.id == message_id)
        async with self._sessions() as session, session.begin():
            result = await session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def claim_due(self, *, now: datetime, limit: int, lease_until: datetime,
                        claim_token: str) -> list[StoredMessage]:
        due = or_(
            and_(M.c.status == MessageStatus.SCHEDULED.value, M.c.next_attempt_at <= now),
            # A sender died mid-send: its lease ran out, the row is due again.
            and_(M.c.status == MessageStatus.SENDING.value, M.c.lease_until <= now),
        )
        candidates = (select(M.c.id).where(due).order_by(M.c.next_attempt_at).limit(limit)
                      .with_for_update(skip_locked=True))
        stmt = (update(M).where(M.c.id.in_(candidates.scalar_subquery()))
                .values(status=MessageStatus.SENDING.value, lease_until=lease_until,
                        claim_token=claim_token).returning(*M.c))
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(stmt)).all()
        return sorted((_message(r) for r in rows), key=lambda m: m.next_attempt_at)

    async def settle(self, message_id: str, claim_token: str, *, status: MessageStatus,
                     at: datetime, next_attempt_at: datetime | None = None,
                     attempts: int | None = None, wamid: str | None = None,
                     reason: str | None = None, error_code: int | None = None,
                     events: Sequence[NewOutboxMessage] = ()) -> bool:
        values: dict[str, Any] = {"status": status.value, "updated_at": at,
                                  "claim_token": None, "lease_until": None,
                                  "reason": reason[:500] if reason else None,
                                  "error_code": error_code}
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if attempts is not None:
            values["attempts"] = attempts
        if wamid is not None:
            values["wamid"] = wamid
        async with self._sessions() as session, session.begin():
            result = await session.execute(update(M).where(
                M.c.id == message_id, M.c.claim_token == claim_token,
                M.c.status == MessageStatus.SENDING.value).values(**values))
            settled = bool(result.rowcount)  # type: ignore[attr-defined]
            if settled and events:
                await SqlOutboxWriter(session, self._now).enqueue(list(events))
        if settled and events and self._on_commit is not None:
            self._on_commit()
        return settled

    async def apply_status(self, status: StatusUpdate,
                           announce: Announce | None = None) -> StoredMessage | None:
        async with self._sessions() as session, session.begin():
            row = (await session.execute(select(M).where(M.c.wamid == status.wamid)
                                         .with_for_update())).first()
            if row is None:
                return None
            current = _message(row)
            if not _moves_forward(current, status):
                return current
            values: dict[str, Any] = {"status": status.status.value, "status_at": status.at,
                                      "updated_at": self._now()}
            if status.status is MessageStatus.FAILED:
                values["error_code"] = status.error_code
                values["reason"] = (status.error_title or "failed")[:500]
            await session.execute(update(M).where(M.c.id == current.id).values(**values))
            updated = _message((await session.execute(
                select(M).where(M.c.id == current.id))).one())
            events = list(announce(updated)) if announce is not None else []
            if events:
                await SqlOutboxWriter(session, self._now).enqueue(events)
        if events and self._on_commit is not None:
            self._on_commit()
        return updated


def _moves_forward(current: StoredMessage, status: StatusUpdate) -> bool:
    """Statuses arrive out of order: read after delivered after sent, by rank; a failure
    only when it is not older than the last status we applied."""
    if current.status in (MessageStatus.CANCELLED, MessageStatus.SUPPRESSED):
        return False
    if status.status is MessageStatus.FAILED:
        return current.status is not MessageStatus.FAILED and (
            current.status_at is None or status.at >= current.status_at)
    if current.status is MessageStatus.FAILED:
        return current.status_at is not None and status.at > current.status_at
    new_rank = DELIVERY_RANK.get(status.status, 0)
    old_rank = DELIVERY_RANK.get(current.status, 0)
    return new_rank > old_rank or (new_rank == old_rank and current.status_at is None)
