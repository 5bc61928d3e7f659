"""The SQL blocking index and matcher on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db.engine import create_engine, session_factory
from adapters.db.match_index import K, R
from adapters.db.migrate import alembic_config
from adapters.db.patients import SqlPatientRepository
from adapters.mpi import (
    SqlPatientMatcher,
    bulk_index,
    index_patient,
    load_parameters,
    reestimate,
    remove_patient,
    save_parameters,
)
from composition import migrate_engine
from resolvers.mpi.matching import MatchCandidate, MatchGrade
from resolvers.mpi.model import Identifier, Patient
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.record import build_record

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NID = "urn:ke:nid"


def _patient(pid: str, given: str, family: str, dob: date, gender: str = "female",
             phone: str | None = None, nid: str | None = None) -> Patient:
    return Patient(id=pid, identifiers=(Identifier(NID, nid),) if nid else (), family=family,
                   given=(given,), birth_date=dob, gender=gender, phone=phone, organization_id=None,
                   version=1, created_at=NOW, updated_at=NOW)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate_engine(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _add(sessions: async_sessionmaker[AsyncSession], *patients: Patient) -> None:
    async with sessions() as session:
        repo = SqlPatientRepository(session)
        for p in patients:
            await repo.add(p)
            await index_patient(session, p)  # what the repository will do once wired
        await session.commit()


async def test_index_match_update_and_remove(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    await _add(sessions,
               _patient("p1", "Grace", "Odhiambo", date(1985, 4, 12), phone="+254712345678",
                        nid="12345678"),
               _patient("p2", "Kwame", "Mensah", date(1970, 5, 6), gender="male"),
               _patient("p3", "Aisha", "Diallo", date(1992, 2, 1)))
    matcher = SqlPatientMatcher(sessions)
    matches = await matcher.match(MatchCandidate(family="Odhyambo", given=("Grace",),
                                                 birth_date=date(1985, 12, 4), gender="female",
                                                 phone="0712345678"))
    assert [m.patient_id for m in matches] == ["p1"]
    assert matches[0].grade in (MatchGrade.CERTAIN, MatchGrade.PROBABLE)
    by_id = await matcher.match(MatchCandidate(identifiers=(Identifier(NID, "12345678"),),
                                               trusted_identifier_systems=frozenset({NID})))
    assert by_id[0].patient_id == "p1" and by_id[0].grade is MatchGrade.CERTAIN
    variant = await matcher.match(MatchCandidate(family="Jallow", given=("Aïssatou",),
                                                 birth_date=date(1992, 2, 1), gender="female"))
    assert variant and variant[0].patient_id == "p3"

    # An update re-indexes: the old name no longer finds the patient, the new one does.
    async with sessions() as session:
        renamed = Patient(**{**_patient("p2", "Kwame", "Asante", date(1970, 5, 6),
                                        gender="male").__dict__, "version": 2})
        assert await SqlPatientRepository(session).update(renamed, expected_version=1)
        await index_patient(session, renamed)
        await session.commit()
    old = await matcher.match(MatchCandidate(family="Mensah", given=("Kwame",),
                                             birth_date=date(1970, 5, 6), gender="male"))
    assert all(m.patient_id != "p2" or m.grade is not MatchGrade.CERTAIN for m in old)
    new = await matcher.match(MatchCandidate(family="Asante", given=("Kouamé",),
                                             birth_date=date(1970, 5, 6), gender="male"))
    assert new[0].patient_id == "p2" and new[0].grade is MatchGrade.CERTAIN

    async with sessions() as session:
        await remove_patient(session, "p2")
        await session.commit()
        assert await matcher.match_in(session, MatchCandidate(
            family="Asante", given=("Kwame",), birth_date=date(1970, 5, 6))) == []


async def test_rolled_back_indexing_leaves_no_keys(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        p = _patient("p9", "Juma", "Hamisi", date(1950, 1, 1))
        await SqlPatientRepository(session).add(p)
        await index_patient(session, p)
        await session.rollback()
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(K))).scalar_one() == 0


async def test_bulk_index_parameters_and_reestimation(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    families = ["Odhiambo", "Otieno", "Kamau", "Mensah", "Diallo", "Tesfaye", "Ndlovu", "Okafor"]
    givens = ["Grace", "Achieng", "Wanjiku", "Kwame", "Aisha", "Abebe", "Thabo", "Chinedu"]
    items = []
    for n in range(400):
        record = build_record(given=[givens[n % 8]], family=families[(n // 8) % 8],
                              birth_date=date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                              gender="female" if n % 2 else "male")
        items.append((f"b{n:04}", record))
        if n % 4 == 0:  # a duplicate with a typo
            dup = build_record(given=[givens[n % 8]], family=families[(n // 8) % 8][:-1] + "a",
                               birth_date=date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                               gender="female" if n % 2 else "male")
            items.append((f"d{n:04}", dup))
    async with sessions() as session:
        assert await bulk_index(session, items) == len(items)
        await session.commit()
        assert (await session.execute(select(func.count()).select_from(R))).scalar_one() \
            == len(items)
        assert await load_parameters(session) == default_parameters()
        outcome = await reestimate(session, sample_size=200, save=True)
        await session.commit()
        assert outcome.pairs > 0 and outcome.result.parameters.trained_on.startswith("live")
    matcher = SqlPatientMatcher(sessions)
    loaded = await matcher.load_parameters()
    assert loaded.to_dict() == outcome.result.parameters.to_dict()
    async with sessions() as session:
        await save_parameters(session, default_parameters())
        await session.commit()
        assert (await load_parameters(session)).to_dict() == default_parameters().to_dict()


async def test_migration_0004_backfills_existing_patients(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            def _to_0003(sync_connection: object) -> None:
                config = alembic_config(str(conn.engine.url))
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "0003")
            await conn.run_sync(_to_0003)
        # A patient stored before the matcher existed (plain rows, as the old code wrote them).
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO patients (id, family, given, birth_date, gender, version, "
                "created_at, updated_at) VALUES ('old1', 'Camara', '[\"Fatoumata\"]', "
                "'1980-03-03', 'female', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        await migrate_engine(engine)
        matcher = SqlPatientMatcher(session_factory(engine))
        found = await matcher.match(MatchCandidate(family="Kamara", given=("Fatuma",),
                                                   birth_date=date(1980, 3, 3), gender="female"))
        assert found and found[0].patient_id == "old1"
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM mpi_blocking_keys"))).scalar_one() > 0
    finally:
        await engine.dispose()
