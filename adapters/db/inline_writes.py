"""Short write transactions on the event loop's own SQLite connection.

Appending a few rows (audit records, issued CDS cards) through aiosqlite costs several
hand-offs to its thread, each waiting for the GIL behind the busy event loop. On a SQLite
file such a transaction runs on the loop itself, on a connection of its own, when the write
lock is free at once (``BEGIN IMMEDIATE`` with no busy wait): tens of microseconds, and the
lock is held only for them. When another writer holds the lock, the caller goes the
engine's way instead (its one writer connection, in aiosqlite's thread).

That connection never checkpoints (``wal_autocheckpoint=0``): a checkpoint copies the log
into the database and syncs it, which must not run on the loop. So one turn in
``CHECKPOINT_EVERY`` is declined here and goes the engine's way, whose commit checkpoints
the log (in aiosqlite's thread) once it has passed SQLite's 1,000 pages. Without that, a
gateway answering only reads, each of which commits its audit row here, grew the log
without bound (46 MB after a minute of benchmark reads), and every read slowed with it.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.ext.asyncio import AsyncEngine

CHECKPOINT_EVERY = 16  # one transaction in this many goes through the engine's connection

_PRAGMAS = ("busy_timeout=0", "synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0")


class InlineSqliteWrites:
    """The loop's own connection to the engine's SQLite file (none for other databases)."""

    def __init__(self, engine: AsyncEngine, *, checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        url = engine.url
        self._path = (url.database if url.get_backend_name() == "sqlite"
                      and url.database not in (None, "", ":memory:") else None)
        self._every = max(1, checkpoint_every)
        self._turns = 0
        self._conn: sqlite3.Connection | None = None

    def begin(self) -> sqlite3.Connection | None:
        """The connection, in a transaction holding the write lock; None where the caller
        must go the engine's way: not a SQLite file, another writer holds the lock, or this
        turn is the engine's (its commit checkpoints the log)."""
        if self._path is None:
            return None
        self._turns += 1
        if self._turns % self._every == 0:
            return None
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None)
            for pragma in _PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None  # another writer has it
            raise
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
