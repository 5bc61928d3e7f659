"""CDS Hooks storage on SQL: issued cards, feedback, and used client JWT ids.

Issued cards are written on every call that answers any, tens at a time: their INSERT is
compiled once per dialect and run as one ``executemany`` (as the audit writer does,
adapters/db/audit_writes.py), not through a Session, which spent about 70 us of Python per
row. On a SQLite file the transaction runs on the event loop, on a connection of its own,
when the write lock is free at once (adapters/db/inline_writes.py); otherwise, and one
batch in ``CHECKPOINT_EVERY`` (whose commit checkpoints the log), the cards go the
engine's way, on its driver connection.

A JWT id is recorded with one INSERT under its primary key (the SHA-256 of issuer and jti):
of two processes presenting the same token at once, exactly one inserts, the other meets
the key and is refused as a replay. Expired ids are deleted on the way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import greenlet_spawn

from adapters.db.compiled import Compiled, compile_for
from adapters.db.engine import session_factory
from adapters.db.inline_writes import InlineSqliteWrites
from adapters.db.tables_cds import CdsCardRow, CdsFeedbackRow, CdsJwtIdRow
from resolvers.cds.hooks.model import FeedbackEntry, IssuedCard

CARDS = CdsCardRow.__table__  # type: ignore[attr-defined]
FEEDBACK = CdsFeedbackRow.__table__  # type: ignore[attr-defined]
JWT_IDS = CdsJwtIdRow.__table__  # type: ignore[attr-defined]
CLEAN_EVERY = 256  # delete expired JWT ids once every this many new ones


def _reasons(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"system": system, "code": code} for system, code in pairs]


# Column values as the table stores them, from the hashable forms the rows carry.
_STORED: dict[str, Any] = {"suggestions": list, "override_reasons": _reasons}


def _card_row(card: IssuedCard) -> dict[str, Any]:
    """The row, its values hashable (tuples): ``_bound`` converts each distinct one once."""
    return {"uuid": card.uuid, "service_id": card.service_id, "hook": card.hook,
            "hook_instance": card.hook_instance, "patient_id": card.patient_id,
            "suggestions": tuple(card.suggestions),
            "override_reasons": tuple(card.override_reasons),
            "issued_by": card.issued_by[:200], "issued_at": card.issued_at,
            "expires_at": card.expires_at}


def _card(row: Any) -> IssuedCard:
    return IssuedCard(
        uuid=row["uuid"], service_id=row["service_id"], hook=row["hook"],
        hook_instance=row["hook_instance"], patient_id=row["patient_id"],
        suggestions=tuple(row["suggestions"] or ()),
        override_reasons=tuple((r["system"], r["code"]) for r in row["override_reasons"] or ()),
        issued_by=row["issued_by"], issued_at=row["issued_at"], expires_at=row["expires_at"])


def _bound(compiled: Compiled, rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Positional parameters of ``rows``. The cards of one call share their times, issuer
    and override reasons, so each distinct value goes through its bind processor (JSON,
    UTC datetimes) once per batch, not once per card."""
    memo: dict[tuple[int, Any], Any] = {}
    columns = [(i, name, proc, _STORED.get(name)) for i, (name, proc) in enumerate(
        zip(compiled.names, compiled.binds, strict=True))]
    out = []
    for row in rows:
        values = []
        for i, name, proc, stored in columns:
            value = row[name]
            if proc is not None or stored is not None:
                key = (i, value)
                found = memo.get(key, memo)
                if found is memo:
                    found = value if stored is None else stored(value)
                    found = memo[key] = found if proc is None else proc(found)
                value = found
            values.append(value)
        out.append(values)
    return out


class SqlCdsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._insert: dict[str, Compiled] = {}
        self._inline = InlineSqliteWrites(engine)

    def _compiled(self, dialect: Dialect) -> Compiled:
        found = self._insert.get(dialect.name)
        if found is None:  # a card already kept (the same hookInstance again) stays as it is
            insert_of = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
            found = self._insert[dialect.name] = compile_for(
                insert_of(CARDS).on_conflict_do_nothing(index_elements=["uuid"]), dialect, ())
        return found

    async def save_cards(self, cards: Sequence[IssuedCard]) -> None:
        if not cards:
            return
        compiled = self._compiled(self._engine.dialect)
        args = _bound(compiled, list({c.uuid: _card_row(c) for c in cards}.values()))
        inline = self._inline.begin()
        if inline is not None:
            try:
                inline.executemany(compiled.sql, args)  # no await: the lock is held briefly
            except BaseException:
                inline.rollback()
                raise
            inline.commit()
            return
        raw = await self._engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            if self._engine.dialect.name == "postgresql":
                async with driver.transaction():
                    await driver.executemany(compiled.sql, args)
                return
            # The write lock up front, as every SQLite write transaction here takes it.
            await driver.execute("BEGIN IMMEDIATE")
            try:
                await driver.executemany(compiled.sql, args)
            except BaseException:
                await driver.rollback()
                raise
            await driver.commit()
        finally:
            await greenlet_spawn(raw.close)

    async def find_cards(self, uuids: Sequence[str], now: datetime) -> dict[str, IssuedCard]:
        if not uuids:
            return {}
        async with self._sessions() as session:
            rows = (await session.execute(select(CARDS).where(
                CARDS.c.uuid.in_(list(set(uuids))), CARDS.c.expires_at > now))).mappings()
            return {row["uuid"]: _card(row) for row in rows}

    async def save_feedback(self, entries: Sequence[FeedbackEntry]) -> None:
        rows = [{"id": e.id, "card_uuid": e.card_uuid, "service_id": e.service_id,
                 "patient_id": e.patient_id, "outcome": e.outcome,
                 "accepted_suggestions": list(e.accepted_suggestions)
                 if e.accepted_suggestions is not None else None,
                 "override_reason": dict(e.override_reason)
                 if e.override_reason is not None else None,
                 "outcome_timestamp": e.outcome_timestamp, "received_by": e.received_by[:200],
                 "received_at": e.received_at} for e in entries]
        async with self._sessions() as session:
            await session.execute(insert(FEEDBACK), rows)
            await session.commit()

    async def purge_expired(self, now: datetime) -> int:
        async with self._sessions() as session:
            result = await session.execute(delete(CARDS).where(CARDS.c.expires_at <= now))
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def feedback_of(self, card_uuid: str) -> list[dict[str, Any]]:
        """The feedback kept about a card, oldest first (for operators and tests)."""
        async with self._sessions() as session:
            rows = (await session.execute(select(FEEDBACK).where(
                FEEDBACK.c.card_uuid == card_uuid).order_by(FEEDBACK.c.received_at,
                                                            FEEDBACK.c.id))).mappings()
            return [dict(r) for r in rows]


class SqlJwtIdLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._recorded = 0

    async def first_use(self, issuer: str, jti: str, expires_at: datetime,
                        now: datetime) -> bool:
        key = hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()
        async with self._sessions() as session:
            # An expired entry for this very key no longer blocks it (its token is dead).
            await session.execute(delete(JWT_IDS).where(JWT_IDS.c.key_hash == key,
                                                        JWT_IDS.c.expires_at <= now))
            try:
                await session.execute(insert(JWT_IDS).values(
                    key_hash=key, issuer=issuer[:500], expires_at=expires_at))
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
        self._recorded += 1
        if self._recorded % CLEAN_EVERY == 1:
            await self.clean(now)
        return True

    async def clean(self, now: datetime) -> int:
        async with self._sessions() as session:
            result = await session.execute(delete(JWT_IDS).where(JWT_IDS.c.expires_at <= now))
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
