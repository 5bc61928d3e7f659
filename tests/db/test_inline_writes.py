"""Short write transactions on the loop's own SQLite connection (adapters/db/inline_writes.py)
leave one turn in CHECKPOINT_EVERY to the engine, whose commit checkpoints the log: a
gateway answering only reads, each committing its audit row inline, keeps its WAL bounded.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.db.inline_writes import InlineSqliteWrites
from tests.support import Harness, make_settings, running_app


async def test_one_turn_in_n_and_a_held_lock_go_the_engines_way(tmp_path: Path) -> None:
    path = tmp_path / "inline.sqlite3"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.commit()
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    writes = InlineSqliteWrites(engine, checkpoint_every=4)
    try:
        turns = []
        for n in range(8):
            conn = writes.begin()
            turns.append(conn is not None)
            if conn is not None:
                conn.execute("INSERT INTO t VALUES (?)", (n,))
                conn.commit()
        assert turns == [True, True, True, False, True, True, True, False]
        setup.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        assert writes.begin() is None
        setup.rollback()
        assert writes.begin() is not None  # free again (turn 10 of 12)
    finally:
        writes.close()
        setup.close()
        await engine.dispose()
    assert InlineSqliteWrites(create_async_engine("sqlite+aiosqlite://")).begin() is None


async def test_reads_alone_keep_the_log_bounded(tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(make_settings(tmp_path, sqlite_url, rate_limit_per_minute=0,
                                         outbox_poll_seconds=60)) as h:
        await _read_many(h)


async def _read_many(h: Harness) -> None:
    patient = await h.create_patient()
    database = h.engine.url.database
    assert database is not None
    reads = 3_000
    for _ in range(reads):
        r = await h.client.get(f"/api/patients/{patient['id']}", headers=h.auth("clinician"))
        assert r.status_code == 200
    log = Path(database + "-wal")
    # Each read commits its audit row (pages of the table and its indexes). The outbox
    # worker, which would write through the engine, is idle. Without the engine's turns
    # nothing checkpointed and the log reached 74 MB here; with them it stays near
    # SQLite's 1,000-page (4 MB) checkpoint threshold (4.4 MB).
    assert log.stat().st_size < 8 * 1024 * 1024  # noqa: ASYNC240 (a stat, no await needed)
    async with h.engine.connect() as conn:
        recorded = (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE patient_id = :p AND action = 'R'"),
            {"p": patient["id"]})).scalar_one()
    assert recorded == reads  # every read's row committed, whichever way it went
