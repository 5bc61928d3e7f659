"""A search page read on the driver path (the read units of work) hands each match's time
over as the driver read it and converts it when read (resolvers.fhir.model.SearchMatch):
the value is the stored one, an aware UTC datetime, on SQLite and PostgreSQL, as a page
read through a session gives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from adapters.db.engine import create_engine, session_factory
from adapters.db.read_engine import read_engine_for
from adapters.db.read_uow import SqlReadUnitOfWork
from adapters.db.uow import SqlUnitOfWork
from composition import migrate_engine
from resolvers.clock import SystemClock
from resolvers.fhir.model import IndexEntry, SearchRequest, StoredResource

STORED = datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)


async def test_matches_carry_the_stored_time(database_url: str) -> None:
    engine = create_engine(database_url)
    reads = read_engine_for(engine)
    try:
        await migrate_engine(engine)
        sessions = session_factory(engine)
        async with SqlUnitOfWork(sessions, SystemClock().now) as uow:
            await uow.fhir.create_many([(StoredResource(
                resource_type="Observation", id=f"o{n}", version=1,
                # one written with another offset: the same instant, read back in UTC
                last_updated=STORED + timedelta(minutes=n) if n else
                STORED.astimezone(timezone(timedelta(hours=3))),
                deleted=False, document={"resourceType": "Observation", "id": f"o{n}",
                                         "status": "final"}),
                [IndexEntry("status", value="final")], None) for n in range(3)])
            await uow.commit()
        request = SearchRequest("Observation", sort=(("last_updated", False),))
        async with SqlReadUnitOfWork(reads) as read:
            page = await read.fhir.search(request)
        times = [r.last_updated for r in page.resources]
        assert times == [STORED + timedelta(minutes=n) for n in range(3)]
        assert all(t.tzinfo is UTC for t in times)
        if page.matches is not None:  # SQLite's driver path: the texts undecoded
            assert [m.last_updated for m in page.matches] == times
        async with SqlUnitOfWork(sessions, SystemClock().now) as uow:
            through_session = await uow.fhir.search(request)
        assert [r.last_updated for r in through_session.resources] == times
    finally:
        if reads is not engine:
            await reads.dispose()
        await engine.dispose()
