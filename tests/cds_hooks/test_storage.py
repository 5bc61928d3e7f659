"""CDS Hooks storage on SQLite and PostgreSQL: a JWT id is used once across processes (two
ledgers on one database stand for two gateway processes, racing), an expired id frees its
key and is cleaned; issued cards are kept once per uuid and forgotten after expiry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.cds import JWT_IDS, SqlCdsStore, SqlJwtIdLedger
from adapters.db.engine import create_engine, session_factory
from composition import migrate_engine
from resolvers.cds.hooks.model import IssuedCard

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    first, second = create_engine(database_url), create_engine(database_url)
    await migrate_engine(first)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_jti_is_used_once_across_processes(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    one, two = (SqlJwtIdLedger(session_factory(e)) for e in engines)
    expires = NOW + timedelta(minutes=5)
    for n in range(5):
        jti = f"race-{n}"
        results = await asyncio.gather(one.first_use("https://ehr", jti, expires, NOW),
                                       two.first_use("https://ehr", jti, expires, NOW))
        assert sorted(results) == [False, True]
    assert await one.first_use("https://other-ehr", "race-0", expires, NOW)  # per issuer


async def test_an_expired_jti_frees_its_key_and_is_cleaned(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    ledger = SqlJwtIdLedger(session_factory(engines[0]))
    assert await ledger.first_use("https://ehr", "j1", NOW + timedelta(minutes=1), NOW)
    assert await ledger.first_use("https://ehr", "j2", NOW + timedelta(minutes=1), NOW)
    later = NOW + timedelta(minutes=2)
    assert not await ledger.first_use("https://ehr", "j1", later, NOW)  # still live: replay
    assert await ledger.first_use("https://ehr", "j1", later + timedelta(minutes=5), later)
    assert await ledger.clean(later) == 1  # j2
    async with engines[0].connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(JWT_IDS)) == 1


def _card(expires: datetime, service: str = "drug-interaction-check") -> IssuedCard:
    return IssuedCard(uuid=str(uuid.uuid4()), service_id=service, hook="order-sign",
                      hook_instance="h-1", patient_id="p-1", suggestions=("s-1", "s-2"),
                      override_reasons=(("urn:x", "a"), ("urn:x", "b")), issued_by="dr",
                      issued_at=NOW, expires_at=expires)


async def test_cards_are_kept_once_and_forgotten_after_expiry(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    store = SqlCdsStore(engines[0])
    live, old = _card(NOW + timedelta(days=7)), _card(NOW - timedelta(seconds=1))
    await store.save_cards([live, old])
    await store.save_cards([live])  # the same hookInstance again: kept as it was
    found = await store.find_cards([live.uuid, old.uuid, "nope"], NOW)
    assert found == {live.uuid: live}
    assert await store.purge_expired(NOW) == 1
    assert await SqlCdsStore(engines[1]).find_cards([live.uuid], NOW) == {live.uuid: live}
