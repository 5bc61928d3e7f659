"""StatisticsKeeper: tables that outgrow their planner statistics get analyzed."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade_connection
from adapters.db.statistics import _LOCK_KEY, StatisticsKeeper
from tests.support import fresh_postgres_database

IDENTIFIER_LOOKUP = (
    "EXPLAIN SELECT resource_id FROM fhir_search_index WHERE resource_type = 'Observation' "
    "AND param = 'identifier' AND value IN ('a', 'b', 'c', 'd')")


async def test_a_table_that_grew_is_analyzed_and_its_lookups_use_the_index() -> None:
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await upgrade_connection(conn)
            keeper = StatisticsKeeper(engine, min_changes=1000)
            assert keeper.applies and await keeper.check() == []
            async with engine.begin() as conn:  # a burst: 20,000 identifier rows
                await conn.execute(text(
                    "INSERT INTO fhir_search_index (resource_type, resource_id, param, system, "
                    "value) SELECT 'Observation', 'o' || g, 'identifier', 'urn:x', 'v' || g "
                    "FROM generate_series(1, 20000) g"))
            # While another process (a worker, another machine) holds the pass, this one skips.
            async with engine.connect() as other:
                await other.execute(text(f"SELECT pg_advisory_lock({_LOCK_KEY})"))
                for _ in range(50):  # until the burst shows in the statistics system
                    async with engine.connect() as conn:
                        changed = await conn.scalar(text(
                            "SELECT n_mod_since_analyze FROM pg_stat_user_tables "
                            "WHERE relname = 'fhir_search_index'"))
                    if changed and changed >= 20000:
                        break
                    await asyncio.sleep(0.2)
                assert await keeper.check() == []
                await other.execute(text(f"SELECT pg_advisory_unlock({_LOCK_KEY})"))
                await other.commit()
            analyzed: list[str] = []
            for _ in range(50):  # the statistics system publishes counts within a second
                analyzed = await keeper.check()
                if analyzed:
                    break
                await asyncio.sleep(0.2)
            assert analyzed == ["fhir_search_index"]
            async with engine.connect() as conn:
                plan = "\n".join(r[0] for r in await conn.execute(text(IDENTIFIER_LOOKUP)))
            # With statistics the IN list is an index condition, not a filter over every row.
            assert "Index Cond" in plan and "= ANY" in plan.split("Index Cond", 1)[1], plan
            assert "Filter" not in plan, plan
            assert await keeper.check() == []  # nothing changed since
        finally:
            await engine.dispose()


async def test_sqlite_needs_no_keeper(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3")
    try:
        assert StatisticsKeeper(engine).applies is False
    finally:
        await engine.dispose()
