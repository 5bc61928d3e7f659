"""The transactions of the grouped audit writer: BEGIN, one INSERT executemany, COMMIT.

Readers hand their audit rows to resolvers/audit/writer.py, which commits them in shared
transactions. Through an ORM Session a batch cost a unit of work and, on SQLite, about ten
hand-offs to aiosqlite's thread, each of which waits for the GIL behind the busy event loop
(the profile put them at a fifth of a GraphQL patient read). Here the rows go through the
columns' own bind processors (adapters/db/compiled.py), as Core would send them, and:

- on a SQLite file, the transaction runs on the event loop itself, on a connection of its
  own, if the write lock is free at once (adapters/db/inline_writes.py): tens of
  microseconds, and the lock is held only for them. When another writer holds the lock,
  and one batch in ``CHECKPOINT_EVERY`` (whose commit checkpoints the log), the batch goes
  the engine's way instead, queued for its one connection;
- otherwise (PostgreSQL, an in-memory SQLite) it runs on the engine's driver connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from adapters.db.audit import A, row_values
from adapters.db.compiled import Compiled, FastInsert
from adapters.db.inline_writes import InlineSqliteWrites
from resolvers.audit.model import AuditQuery, AuditRecord

_INSERT = FastInsert(A)


def _bound(compiled: Compiled, rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Positional parameters of ``rows``. The records of one read share their time, roles
    and caller, so each distinct value is converted once per batch (a search's tens of rows
    spent more in the datetime and JSON bind processors than in SQLite's insert)."""
    converted: list[tuple[int, Any, dict[Any, Any]]] = [
        (i, proc, {}) for i, proc in enumerate(compiled.binds) if proc is not None]
    out = []
    for row in rows:
        values = [row[name] for name in compiled.names]
        for i, proc, memo in converted:
            value = values[i]
            key = (type(value), tuple(value) if isinstance(value, list) else value)
            try:
                values[i] = memo[key]
            except KeyError:
                values[i] = memo[key] = proc(value)
            except TypeError:  # unhashable (a dict): converted as it is
                values[i] = proc(value)
        out.append(values)
    return out


class SqlAuditWrites:
    """The audit writer's unit-of-work factory for ``engine``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.inline = InlineSqliteWrites(engine)

    def __call__(self) -> SqlAuditWriteUnitOfWork:
        return SqlAuditWriteUnitOfWork(self._engine, self)

    def close(self) -> None:
        self.inline.close()


class _AuditRows:
    def __init__(self, uow: SqlAuditWriteUnitOfWork) -> None:
        self._uow = uow

    async def append(self, records: Sequence[AuditRecord]) -> None:
        await self._uow.insert([row_values(r) for r in records])

    async def search(self, query: AuditQuery) -> list[AuditRecord]:
        raise TypeError("the audit writer's transactions only append")


class SqlAuditWriteUnitOfWork:
    """One audit transaction; its rows are durable once ``commit`` returns."""

    def __init__(self, engine: AsyncEngine, writes: SqlAuditWrites) -> None:
        self._engine = engine
        self._writes = writes
        self.audit = _AuditRows(self)
        self._raw: PoolProxiedConnection | None = None
        self._inline: sqlite3.Connection | None = None
        self._open = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            await self.rollback()
        finally:
            if self._raw is not None:
                await greenlet_spawn(self._raw.close)  # back to the pool

    def _begin_inline(self) -> bool:
        """The write lock on the loop's own connection, if it is free right now (and this
        is not the engine's turn: adapters/db/inline_writes.py)."""
        conn = self._writes.inline.begin()
        if conn is None:
            return False  # queue for the engine's connection
        self._inline = conn
        self._open = True
        return True

    async def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        compiled = _INSERT.compiled(self._engine.dialect)
        args = _bound(compiled, rows)
        events = self._engine.sync_engine.dispatch.before_cursor_execute
        if events:  # instrumentation (statement counts in tests) sees the statement too
            events(None, None, compiled.sql, args, None, True)
        if self._inline is not None or (not self._open and self._begin_inline()):
            assert self._inline is not None
            self._inline.executemany(compiled.sql, args)  # no await: the lock is held briefly
            return
        if self._raw is None:
            self._raw = await self._engine.raw_connection()
            self._driver: Any = self._raw.driver_connection
        if self._engine.dialect.name == "postgresql":
            if not self._open:
                self._tx = self._driver.transaction()
                await self._tx.start()
                self._open = True
            await self._driver.executemany(compiled.sql, args)
            return
        if not self._open:
            # The write lock up front, as every write transaction on SQLite takes it
            # (adapters/db/engine.py), so a busy writer is waited for, never failed.
            await self._driver.execute("BEGIN IMMEDIATE")
            self._open = True
        await self._driver.executemany(compiled.sql, args)

    async def commit(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._inline is not None:
            self._inline.commit()
        elif self._engine.dialect.name == "postgresql":
            await self._tx.commit()
        else:
            await self._driver.commit()

    async def rollback(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._inline is not None:
            self._inline.rollback()
        elif self._engine.dialect.name == "postgresql":
            await self._tx.rollback()
        else:
            await self._driver.rollback()
