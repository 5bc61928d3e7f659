"""SmartStore on SQL: apps and one-time grants, each call in its own transaction.

A grant is consumed with one conditional UPDATE (``used_at IS NULL AND expires_at > now``):
of two requests presenting the same code at once, exactly one changes the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.tables_smart import SmartAppRow, SmartGrantRow
from resolvers.smart.model import Grant, SmartApp

APPS = SmartAppRow.__table__  # type: ignore[attr-defined]
GRANTS = SmartGrantRow.__table__  # type: ignore[attr-defined]


def _app(row: Any) -> SmartApp:
    values = dict(row)
    for key in ("redirect_uris", "scopes", "launch_urls"):
        values[key] = tuple(values[key] or ())
    return SmartApp(**values)


def _grant(row: Any) -> Grant:
    return Grant(key_hash=row["key_hash"], kind=row["kind"], client_id=row["client_id"],
                 expires_at=row["expires_at"], data=dict(row["data"] or {}))


class SqlSmartStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_app(self, app: SmartApp) -> None:
        values = {**app.__dict__}
        for key in ("redirect_uris", "scopes", "launch_urls"):
            values[key] = list(values[key])
        async with self._sessions() as session:
            await session.execute(insert(APPS).values(**values))
            await session.commit()

    async def get_app(self, client_id: str) -> SmartApp | None:
        async with self._sessions() as session:
            row = (await session.execute(select(APPS).where(APPS.c.client_id == client_id))
                   ).mappings().first()
        return _app(row) if row else None

    async def list_apps(self) -> list[SmartApp]:
        async with self._sessions() as session:
            rows = (await session.execute(select(APPS).order_by(APPS.c.created_at,
                                                                APPS.c.client_id))).mappings()
            return [_app(r) for r in rows]

    async def add_grant(self, grant: Grant) -> bool:
        async with self._sessions() as session:
            try:
                await session.execute(insert(GRANTS).values(
                    key_hash=grant.key_hash, kind=grant.kind, client_id=grant.client_id,
                    data=grant.data, expires_at=grant.expires_at, used_at=None))
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
        return True

    async def consume_grant(self, key_hash: str, kind: str, now: datetime) -> Grant | None:
        async with self._sessions() as session:
            changed = await session.execute(
                update(GRANTS).where(GRANTS.c.key_hash == key_hash, GRANTS.c.kind == kind,
                                     GRANTS.c.used_at.is_(None), GRANTS.c.expires_at > now)
                .values(used_at=now))
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return None
            row = (await session.execute(select(GRANTS).where(GRANTS.c.key_hash == key_hash))
                   ).mappings().first()
            await session.commit()
        return _grant(row) if row else None

    async def find_grant(self, key_hash: str, kind: str, now: datetime) -> Grant | None:
        async with self._sessions() as session:
            row = (await session.execute(select(GRANTS).where(
                GRANTS.c.key_hash == key_hash, GRANTS.c.kind == kind,
                GRANTS.c.used_at.is_(None), GRANTS.c.expires_at > now))).mappings().first()
        return _grant(row) if row else None
