"""StatisticsKeeper: PostgreSQL planner statistics kept in step with fast-growing tables.

Autovacuum analyzes a table once about 10% of it changed and its one-minute nap is over. A
gateway that starts empty and ingests a backlog (or a benchmark) outgrows that: with
statistics that still say "empty", PostgreSQL planned the identifier lookup of every lab
message as a scan of all identifier rows (5 ms and growing, instead of 0.05 ms). So while
the gateway runs, it looks at ``pg_stat_user_tables`` every few seconds and analyzes the
tables that changed by more than ``ratio`` of their size (at least ``min_changes`` rows).
Analyzing samples a fixed number of rows, so each pass costs tens of milliseconds, and
growth by doubling means few passes. SQLite needs none of this: its planner does not rely on
gathered statistics for these queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("cari.db")

HOT_TABLES = ("fhir_search_index", "fhir_resources", "fhir_resource_versions", "lab_results",
              "mpi_links", "mpi_blocking_keys", "mpi_match_records", "audit_events",
              "webhook_events", "outbox_messages", "payments")

_CHANGED = text(
    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
    "AND relname = ANY(:tables) "
    "AND n_mod_since_analyze > GREATEST(:min_changes, :ratio * GREATEST(n_live_tup, 1))")

# A session lock any process of the gateway takes around its ANALYZE pass.
_LOCK_KEY = 0x6361726953544154  # "cariSTAT"
_TRY_LOCK = text(f"SELECT pg_try_advisory_lock({_LOCK_KEY})")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_LOCK_KEY})")


class StatisticsKeeper:
    def __init__(self, engine: AsyncEngine, *, min_changes: int = 2000, ratio: float = 0.2,
                 interval_seconds: float = 3.0) -> None:
        self._engine = engine
        self._min_changes = min_changes
        self._ratio = ratio
        self._interval = interval_seconds

    @property
    def applies(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
            if stop.is_set():
                return
            try:
                await self.check()
            except Exception:  # statistics are an optimisation: never stop the gateway
                log.warning("could not refresh planner statistics", exc_info=True)

    async def check(self) -> list[str]:
        """Analyze the tables that outgrew their statistics; answer their names."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(_CHANGED, {"tables": list(HOT_TABLES),
                                                 "min_changes": self._min_changes,
                                                 "ratio": self._ratio})
            stale = sorted(str(r[0]) for r in rows)
            await conn.commit()
        if not stale:
            return []
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            # Several gateway processes (workers, machines) share the database: one analyzes,
            # the others skip this pass (they would sample the same tables again).
            taken = await autocommit.scalar(_TRY_LOCK)
            if not taken:
                return []
            try:
                for table in stale:  # names come from the fixed list above, never from input
                    await autocommit.execute(text(f'ANALYZE "{table}"'))
            finally:
                await autocommit.execute(_UNLOCK)
        log.info("planner statistics refreshed", extra={"count": len(stale)})
        return stale
