"""What the repositories of a read unit of work run on: Core, not an ORM Session.

A read writes nothing in its unit of work (its audit rows go through the grouped audit
writer), so it needs none of the Session's identity map, flush or state bookkeeping, which
cost about as much again as Core's own execution per statement. A :class:`ReadConnection`
checks a connection out only when a statement runs: a Core ``AsyncConnection`` for ordinary
statements, or only the driver connection for :class:`FastSelect` lookups (no Core
connection, no execution context: a driver call and the columns' processors). It never holds
two pooled connections at once, so a read cannot wait on the pool for a second one.

Each statement reads committed data, as PostgreSQL's READ COMMITTED gave every read before;
on SQLite the Core statements of one unit of work share a deferred transaction (a snapshot).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from adapters.db.compiled import MAX_KEYS, FastSelect, bucket, key_params
from adapters.db.read_engine import statement_reader


class Executor(Protocol):
    """What a SQL repository runs statements on: an ``AsyncSession`` (writes) or a
    :class:`ReadConnection` (reads)."""

    @property
    def bind(self) -> Any: ...

    async def execute(self, statement: Any, params: Any = None, /) -> Result[Any]: ...


async def fetch_keys(executor: Executor, select: FastSelect, keys: Sequence[str],
                     params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``select`` for these keys: on the driver when ``executor`` reads, else
    the same statement through Core (a write unit of work's session)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), MAX_KEYS):
        chunk = keys[start:start + MAX_KEYS]
        size = bucket(len(chunk))
        bound = {**(params or {}), **key_params(chunk, size)}
        if isinstance(executor, ReadConnection):
            rows += await executor.fetch(select, size, bound)
        else:
            rows += [tuple(r) for r in await executor.execute(select.statement(size), bound)]
    return rows


class StatementReader:
    """Where a read engine's FastSelects run: on a SQLite file, one read-only connection of
    the event loop's own (adapters/db/read_engine.statement_reader: no pool, no await);
    elsewhere a pooled driver connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._inline: sqlite3.Connection | None = None
        self._opened = False

    def inline(self) -> sqlite3.Connection | None:
        if not self._opened:
            self._inline = statement_reader(self.engine)
            self._opened = True
        return self._inline

    def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None


class ReadConnection:
    def __init__(self, engine: AsyncEngine, reader: StatementReader | None = None) -> None:
        self._engine = engine
        self._reader = reader
        self._conn: AsyncConnection | None = None
        self._raw: PoolProxiedConnection | None = None  # checked out for fast reads alone

    @property
    def bind(self) -> AsyncEngine:  # what adapters.db.dialect asks a session for
        return self._engine

    async def execute(self, statement: Any, params: Any = None, /) -> Result[Any]:
        if self._conn is None:
            await self._release_raw()
            self._conn = await self._engine.connect()
        result: Result[Any] = await self._conn.execute(statement, params)
        return result

    async def fetch(self, select: FastSelect, size: int,
                    params: dict[str, Any]) -> list[tuple[Any, ...]]:
        dialect = self._engine.dialect
        compiled = select.compiled(dialect, size)
        args = compiled.positional(params)
        events = self._engine.sync_engine.dispatch.before_cursor_execute
        if events:  # instrumentation (statement counts in tests) sees these statements too
            events(None, None, compiled.sql, args, None, False)
        inline = self._reader.inline() if self._reader is not None else None
        if inline is not None:  # execute to fetchall without an await: nothing interleaves
            return compiled.rows(inline.execute(compiled.sql, args).fetchall())
        if self._conn is not None:
            raw_conn = await self._conn.get_raw_connection()
        else:
            if self._raw is None:
                self._raw = await self._engine.raw_connection()
            raw_conn = self._raw
        driver: Any = raw_conn.driver_connection
        if dialect.name == "postgresql":  # asyncpg: its own prepared-statement cache
            raw = await driver.fetch(compiled.sql, *args)
        else:  # aiosqlite, or the read engine's inline sqlite3 connection
            cursor = await driver.execute(compiled.sql, args)
            try:
                raw = await cursor.fetchall()
            finally:
                await cursor.close()
        return compiled.rows(raw)

    async def commit(self) -> None:
        if self._conn is not None:
            await self._conn.commit()

    async def rollback(self) -> None:
        if self._conn is not None:
            await self._conn.rollback()

    async def close(self) -> None:
        try:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
        finally:
            await self._release_raw()

    async def _release_raw(self) -> None:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            await greenlet_spawn(raw.close)  # back to the pool (reset there)
