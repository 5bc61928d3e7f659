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
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from adapters.db.audit import A, row_values
from adapters.db.compiled import Compiled, FastInsert
from adapters.db.inline_writes import InlineSqliteWrites
from resolvers.audit.model import AuditAction, AuditOutcome, AuditQuery, AuditRecord

_INSERT = FastInsert(A)


# What row_values makes of a record's attributes: enums their codes, roles a list.
_CONVERTED: dict[str, Callable[[Any], Any]] = {
    "roles": list, "action": attrgetter("value"), "outcome": attrgetter("value")}
_SAMPLE = AuditRecord("", datetime.min, "", (), AuditAction.READ, "", None, None,
                      AuditOutcome.SUCCESS, "", "", "")
# Per compiled statement: the record's attributes in its parameter order, and per column
# that needs it the conversion (row_values') and then the bind processor.
_Plan = tuple[Callable[[AuditRecord], tuple[Any, ...]],
              list[tuple[int, Callable[[Any], Any]]]]
_PLANS: dict[str, _Plan] = {}


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: second(first(value))


def _plan(compiled: Compiled) -> _Plan:
    found = _PLANS.get(compiled.sql)
    if found is None:
        if set(compiled.names) != set(row_values(_SAMPLE)):
            raise TypeError(f"audit insert binds {compiled.names}, not row_values' columns")
        steps: list[tuple[int, Callable[[Any], Any]]] = []
        for i, (name, proc) in enumerate(zip(compiled.names, compiled.binds, strict=True)):
            convert = _CONVERTED.get(name)
            if convert is not None and proc is not None:
                steps.append((i, _then(convert, proc)))
            elif convert is not None:
                steps.append((i, convert))
            elif proc is not None:
                steps.append((i, proc))
        found = _PLANS[compiled.sql] = (attrgetter(*compiled.names), steps)
    return found


def _bound(compiled: Compiled, records: Sequence[AuditRecord]) -> list[list[Any]]:
    """Positional parameters of ``records``, as row_values and the columns' bind processors
    make them. The records of one read share their time, roles and caller, so each
    distinct value is converted once per batch (a search's tens of rows spent more in the
    datetime and JSON bind processors than in SQLite's insert)."""
    read, steps = _plan(compiled)
    memos: list[dict[Any, Any]] = [{} for _ in steps]
    out = []
    for record in records:
        values = list(read(record))
        for (i, convert), memo in zip(steps, memos, strict=True):
            value = values[i]  # hashable: a record is frozen, its roles a tuple
            try:
                values[i] = memo[value]
            except KeyError:
                values[i] = memo[value] = convert(value)
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
        await self._uow.insert(records)

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

    async def insert(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        compiled = _INSERT.compiled(self._engine.dialect)
        args = _bound(compiled, records)
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
