"""The engine reads run on: their own connections on SQLite, the same pool on PostgreSQL.

On SQLite the gateway's engine has one connection and starts every transaction with
``BEGIN IMMEDIATE`` (the write lock), so a read used to queue behind every write and hold the
lock itself. Reads that write nothing (their audit rows go through the grouped audit writer)
run here instead: several read-only connections (``PRAGMA query_only``, so a stray write
fails loudly instead of taking the lock) in deferred transactions, which in WAL mode read a
snapshot and neither wait for nor block the writer.

A read statement on these connections runs on the event loop itself (see
:class:`_InlineConnection`): aiosqlite hands every statement to its thread four times
(cursor, execute, fetchall, close), and each hand-off waits for the GIL behind the busy
loop, which cost more than the indexed reads themselves (the profile showed the server
idle a third of the time at 16 connections). The price is that a slow read would stall the
process for its duration; reads here are index probes and bounded pages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# A reader waits at most this long for a lock (in WAL mode only a checkpoint that resets
# the log or a recovery takes one), on the loop: short, so the process is never held long.
READER_BUSY_MS = 2000


class _InlineCursor:
    """aiosqlite's cursor interface over a plain sqlite3 cursor, without the thread."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> _InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _InlineConnection:
    """The subset of ``aiosqlite.Connection`` SQLAlchemy's aiosqlite dialect calls."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn

    @property
    def _connection(self) -> sqlite3.Connection | None:  # the dialect's "still open?" test
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    def cursor(self) -> _InlineCursor:
        return _InlineCursor(self._open().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _InlineCursor:
        """aiosqlite's ``Connection.execute``: the fast reads (adapters/db/compiled.py) call it."""
        return await self.cursor().execute(sql, parameters)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    async def commit(self) -> None:
        self._open().commit()

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._open().create_function(*args, **kw)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _read_only(path: str) -> sqlite3.Connection:
    # isolation_level=None: the driver issues no BEGIN of its own; the engine's "begin"
    # listener below starts a deferred (read) transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    conn.execute(f"PRAGMA busy_timeout={READER_BUSY_MS}")
    return conn


def _connector(path: str) -> Any:
    async def connect() -> _InlineConnection:
        return _InlineConnection(_read_only(path))
    return connect


def statement_reader(engine: AsyncEngine) -> sqlite3.Connection | None:
    """For a read engine on a SQLite file: one more read-only connection, outside the pool,
    for single statements run from start to end without an await (adapters/db/compiled.py).
    Nothing can interleave with such a statement on the loop, so one connection serves every
    reader, with no pool checkout; each statement reads its own committed snapshot."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return _read_only(url.database)


def read_engine_for(engine: AsyncEngine) -> AsyncEngine:
    """The engine for reads that write nothing; ``engine`` itself unless it is a SQLite file
    (an in-memory database exists once per connection, so it cannot have readers)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return engine
    reader = create_async_engine(url, async_creator=_connector(url.database),
                                 hide_parameters=True, pool_size=4, max_overflow=12,
                                 pool_timeout=60)

    @event.listens_for(reader.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")  # deferred: a snapshot, never the write lock

    return reader
