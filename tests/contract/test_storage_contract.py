"""One suite, three implementations of the storage ports: in-memory, SQLite, PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.engine import create_engine, session_factory
from adapters.db.outbox import SqlOutboxStore
from adapters.db.outbox_pauses import SqlPausedDestinations
from adapters.db.uow import SqlUnitOfWork
from adapters.memory.outbox_pauses import InMemoryPausedDestinations
from adapters.memory.store import InMemoryOutboxStore, InMemoryUnitOfWork, MemoryState
from composition import migrate_engine
from resolvers.audit.model import AuditAction, AuditOutcome, AuditQuery, AuditRecord
from resolvers.clock import SystemClock
from resolvers.directory.model import Organization
from resolvers.ids import new_id
from resolvers.mpi.model import Identifier, Patient, PatientQuery
from resolvers.outbox.model import (
    NewOutboxMessage,
    OutboxQuery,
    OutboxStatus,
    PausedDestination,
)
from tests.support import fresh_postgres_database

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# (unit of work factory, outbox store, paused destinations) of one implementation
Ports = tuple[Callable[[], Any], Any, Any]


@contextlib.asynccontextmanager
async def _sql(url: str) -> AsyncIterator[Ports]:
    engine: AsyncEngine = create_engine(url)
    await migrate_engine(engine)
    sessions = session_factory(engine)
    try:
        yield ((lambda: SqlUnitOfWork(sessions, SystemClock().now)), SqlOutboxStore(sessions),
               SqlPausedDestinations(sessions))
    finally:
        await engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def ports(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ports]:
    if request.param == "memory":
        state = MemoryState()
        yield ((lambda: InMemoryUnitOfWork(state, SystemClock().now)),
               InMemoryOutboxStore(state), InMemoryPausedDestinations(state))
    elif request.param == "sqlite":
        async with _sql(f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}") as found:
            yield found
    else:
        async with fresh_postgres_database() as url:
            async with _sql(url) as found:
                yield found


@pytest.fixture
def storage(ports: Ports) -> tuple[Callable[[], Any], Any]:
    return ports[0], ports[1]


def _patient(family: str = "Kamau", ids: tuple[Identifier, ...] = (), org: str | None = None,
             ) -> Patient:
    return Patient(id=new_id(), identifiers=ids, family=family, given=("Njeri", "W."),
                   birth_date=date(1988, 7, 1), gender="female", phone="+254712345678",
                   organization_id=org, version=1, created_at=NOW, updated_at=NOW)


async def test_patient_round_trip_keeps_every_field(storage) -> None:
    uow_factory, _ = storage
    p = _patient(ids=(Identifier("urn:mrn", "1"), Identifier("urn:ke:nid", "99")))
    async with uow_factory() as uow:
        await uow.patients.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.patients.get_many([p.id, "nope"])) == {p.id: p}
        assert await uow.patients.find_by_identifier(Identifier("urn:ke:nid", "99")) == p
        assert await uow.patients.find_by_identifier(Identifier("urn:ke:nid", "1")) is None


async def test_uncommitted_work_is_rolled_back(storage) -> None:
    uow_factory, _ = storage
    p = _patient()
    async with uow_factory() as uow:
        await uow.patients.add(p)
        await uow.outbox.enqueue([NewOutboxMessage("d", {"x": 1}, "k")])
        # no commit: leaving the block must undo both
    async with uow_factory() as uow:
        assert await uow.patients.get_many([p.id]) == {}
    assert await storage[1].search(OutboxQuery()) == []


async def test_update_is_optimistic(storage) -> None:
    uow_factory, _ = storage
    p = _patient(ids=(Identifier("urn:mrn", "a"),))
    async with uow_factory() as uow:
        await uow.patients.add(p)
        await uow.commit()
    changed = Patient(**{**p.__dict__, "family": "Njoroge", "version": 2,
                         "identifiers": (Identifier("urn:mrn", "b"),)})
    async with uow_factory() as uow:
        assert await uow.patients.update(changed, expected_version=1)
        assert not await uow.patients.update(changed, expected_version=1)
        await uow.commit()
    async with uow_factory() as uow:
        stored = (await uow.patients.get_many([p.id]))[p.id]
        assert stored.family == "Njoroge" and stored.version == 2
        assert stored.identifiers == (Identifier("urn:mrn", "b"),)
        assert await uow.patients.find_by_identifier(Identifier("urn:mrn", "a")) is None


async def test_patient_search_filters_and_pages(storage) -> None:
    uow_factory, _ = storage
    org = Organization(id=new_id(), name="Kenyatta National Hospital", identifiers=(),
                       country="KE", kind="facility", version=1, created_at=NOW, updated_at=NOW)
    people = [_patient("Odhiambo"), _patient("odera", org=org.id), _patient("Mensah"),
              _patient("O%_tricky", ids=(Identifier("urn:x", "7"),))]
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        for p in people:
            await uow.patients.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        def ids(found: list[Patient]) -> list[str]:
            return [p.id for p in found]

        assert ids(await uow.patients.search(PatientQuery(family="od"))) == ids(people[:2])
        assert ids(await uow.patients.search(PatientQuery(family="o%"))) == [people[3].id]
        assert ids(await uow.patients.search(PatientQuery(organization_id=org.id))) == [people[1].id]
        assert ids(await uow.patients.search(
            PatientQuery(identifier=Identifier("urn:x", "7")))) == [people[3].id]
        page1 = await uow.patients.search(PatientQuery(limit=3))
        page2 = await uow.patients.search(PatientQuery(limit=3, after=page1[-1].id))
        assert ids(page1 + page2) == ids(people)
        assert [o.id for o in await uow.organizations.search(name="kenyatta", after=None,
                                                             limit=5)] == [org.id]


async def test_audit_filters_newest_first(storage) -> None:
    uow_factory, _ = storage

    def rec(subject: str, patient: str, minutes: int, action: AuditAction) -> AuditRecord:
        return AuditRecord(id=new_id(), recorded_at=NOW + timedelta(minutes=minutes),
                           subject=subject, roles=("clinician",), action=action,
                           resource_type="Patient", resource_id=patient, patient_id=patient,
                           outcome=AuditOutcome.SUCCESS, request_id="r", surface="rest",
                           purpose="")

    records = [rec("a", "p1", 0, AuditAction.READ), rec("b", "p1", 1, AuditAction.UPDATE),
               rec("a", "p2", 2, AuditAction.READ)]
    async with uow_factory() as uow:
        await uow.audit.append(records)
        await uow.commit()
    async with uow_factory() as uow:
        assert [r.id for r in await uow.audit.search(AuditQuery())] == [r.id for r in records[::-1]]
        assert await uow.audit.search(AuditQuery(subject="a", patient_id="p2")) == [records[2]]
        assert [r.id for r in await uow.audit.search(AuditQuery(action=AuditAction.UPDATE))] == [
            records[1].id]
        window = AuditQuery(since=NOW + timedelta(minutes=1), until=NOW + timedelta(minutes=2))
        assert [r.id for r in await uow.audit.search(window)] == [records[1].id]
        page = await uow.audit.search(AuditQuery(limit=1, after=records[2].id))
        assert [r.id for r in page] == [records[1].id]


async def test_outbox_claim_settle_and_replay(storage) -> None:
    uow_factory, store = storage
    async with uow_factory() as uow:
        ids = await uow.outbox.enqueue([NewOutboxMessage("d", {"n": i}, f"k{i}") for i in range(3)])
        assert len(ids) == 3
        assert await uow.outbox.enqueue([NewOutboxMessage("d", {"n": 0}, "k0")]) == []
        await uow.commit()
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = now + timedelta(seconds=30)
    first = await store.claim_due(now=now, limit=2, lease_until=lease, claim_token="t1")
    second = await store.claim_due(now=now, limit=5, lease_until=lease, claim_token="t2")
    assert len(first) == 2 and len(second) == 1
    assert {m.id for m in first} | {m.id for m in second} == set(ids)
    assert all(m.status == OutboxStatus.IN_FLIGHT for m in first + second)
    assert await store.mark_delivered(first[0].id, "t1", now)
    assert not await store.mark_delivered(first[1].id, "wrong-token", now)
    assert await store.mark_failed(first[1].id, "t1", error="boom", next_attempt_at=now, dead=True)
    assert await store.mark_failed(second[0].id, "t2", error="later",
                                   next_attempt_at=now + timedelta(hours=1), dead=False)
    counts = await store.counts()
    assert counts == {"pending": 1, "in_flight": 0, "delivered": 1, "dead": 1}
    dead = await store.search(OutboxQuery(status=OutboxStatus.DEAD))
    assert [m.last_error for m in dead] == ["boom"] and dead[0].attempts == 1
    assert await store.claim_due(now=now, limit=5, lease_until=lease, claim_token="t3") == []
    assert await store.replay([dead[0].id], now) == 1
    again = await store.claim_due(now=now, limit=5, lease_until=lease, claim_token="t4")
    assert [m.id for m in again] == [dead[0].id] and again[0].attempts == 0


async def test_expired_lease_is_claimed_again(storage) -> None:
    uow_factory, store = storage
    async with uow_factory() as uow:
        await uow.outbox.enqueue([NewOutboxMessage("d", {}, "only")])
        await uow.commit()
    now = datetime.now(UTC) + timedelta(seconds=1)
    (m,) = await store.claim_due(now=now, limit=5, lease_until=now + timedelta(seconds=10),
                                 claim_token="crashed")
    assert await store.claim_due(now=now + timedelta(seconds=5), limit=5,
                                 lease_until=now + timedelta(seconds=40), claim_token="x") == []
    (again,) = await store.claim_due(now=now + timedelta(seconds=11), limit=5,
                                     lease_until=now + timedelta(seconds=60), claim_token="next")
    assert again.id == m.id and again.idempotency_key == "only"
    assert not await store.mark_delivered(m.id, "crashed", now)
    assert await store.mark_delivered(m.id, "next", now)


async def test_a_claim_is_settled_delivered_in_one_call(storage) -> None:
    uow_factory, store = storage
    async with uow_factory() as uow:
        await uow.outbox.enqueue([NewOutboxMessage("d", {"n": i}, f"m{i}") for i in range(4)])
        await uow.commit()
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = now + timedelta(seconds=30)
    mine = await store.claim_due(now=now, limit=3, lease_until=lease, claim_token="mine")
    other = await store.claim_due(now=now, limit=3, lease_until=lease, claim_token="other")
    # Only the rows this claim holds are settled: not another claim's, not twice.
    ids = [m.id for m in mine] + [other[0].id]
    assert await store.mark_delivered_many(ids, "mine", now) == 3
    assert await store.mark_delivered_many(ids, "mine", now) == 0
    assert await store.mark_delivered_many([], "mine", now) == 0
    assert await store.counts() == {"pending": 0, "in_flight": 1, "delivered": 3, "dead": 0}
    delivered = await store.search(OutboxQuery(status=OutboxStatus.DELIVERED))
    assert all(m.attempts == 1 and m.last_error is None for m in delivered)


async def test_a_paused_destination_is_not_claimed_until_resumed(ports: Ports) -> None:
    uow_factory, store, pauses = ports
    async with uow_factory() as uow:
        await uow.outbox.enqueue([NewOutboxMessage("lab", {}, "l1"),
                                  NewOutboxMessage("dhis2", {}, "d1")])
        await uow.commit()
    first = PausedDestination("dhis2", NOW, "ops-1", "ministry server down")
    assert await pauses.pause(first)
    assert not await pauses.pause(PausedDestination("dhis2", NOW, "ops-2"))  # first one stays
    assert await pauses.paused() == [first]
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = now + timedelta(seconds=30)
    claimed = await store.claim_due(now=now, limit=5, lease_until=lease, claim_token="t1")
    assert [m.destination for m in claimed] == ["lab"]
    assert await store.claim_due(now=now, limit=5, lease_until=lease, claim_token="t2") == []
    pending = await store.search(OutboxQuery(status=OutboxStatus.PENDING))
    assert [(m.destination, m.attempts) for m in pending] == [("dhis2", 0)]
    assert await pauses.resume("dhis2") and not await pauses.resume("dhis2")
    assert await pauses.paused() == []
    resumed = await store.claim_due(now=now, limit=5, lease_until=lease, claim_token="t3")
    assert [m.idempotency_key for m in resumed] == ["d1"]
