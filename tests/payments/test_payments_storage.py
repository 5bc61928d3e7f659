"""PaymentRepository on memory, SQLite and PostgreSQL: round trip, uniqueness, compare-and-set."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.db.engine import create_engine, session_factory
from adapters.db.uow import SqlUnitOfWork
from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from composition import migrate_engine
from resolvers.clock import SystemClock
from resolvers.ids import new_id
from resolvers.payments.model import (
    Direction,
    DuplicatePayment,
    Payment,
    PaymentQuery,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
)
from tests.support import fresh_postgres_database

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = PaymentStatus


def _factory(sessions: Any) -> Callable[[], Any]:
    return lambda: SqlUnitOfWork(sessions, SystemClock().now)


@contextlib.asynccontextmanager
async def _sql(url: str, engines: int = 1) -> AsyncIterator[list[Callable[[], Any]]]:
    made = [create_engine(url) for _ in range(engines)]
    await migrate_engine(made[0])
    try:
        yield [_factory(session_factory(e)) for e in made]
    finally:
        for e in made:
            await e.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def uows(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "memory":
        state = MemoryState()
        yield [lambda: InMemoryUnitOfWork(state, SystemClock().now)]
    elif request.param == "sqlite":
        async with _sql(f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite3'}") as made:
            yield made
    else:
        async with fresh_postgres_database() as url, _sql(url, engines=2) as made:
            yield made


def payment(key: str = "k1", by: str = "billing-1", patient: str | None = None,
            **changes: Any) -> Payment:
    values: dict[str, Any] = dict(
        id=new_id(), provider="mpesa", direction=Direction.COLLECTION, amount_minor=150000,
        currency="KES", phone_e164="+254712345678", reference="INV-1", description="visit",
        patient_id=patient, status=S.CREATED, idempotency_key=key, request_hash="h" * 64,
        attempt_key=new_id(), callback_token_hash=new_id().replace("-", "") * 2,
        provider_reference=None, provider_transaction_id=None, provider_secret_hash=None,
        redirect_url=None, failure_reason=None, created_by=by, created_at=NOW, updated_at=NOW,
        expires_at=NOW + timedelta(minutes=5), next_check_at=NOW + timedelta(seconds=30),
        checks=0, initiated=True)
    values.update(changes)
    return Payment(**values)


def created(p: Payment) -> PaymentTransition:
    return PaymentTransition(id=new_id(), payment_id=p.id, from_status=None, to_status=S.CREATED,
                             reason="requested", source=TransitionSource.API, at=NOW)


def moved(p: Payment, old: PaymentStatus, new: PaymentStatus) -> PaymentTransition:
    return PaymentTransition(id=new_id(), payment_id=p.id, from_status=old, to_status=new,
                             reason="test", source=TransitionSource.CALLBACK, at=NOW)


async def _add(uow_factory: Callable[[], Any], *payments: Payment) -> None:
    async with uow_factory() as uow:
        for p in payments:
            await uow.payments.add(p, created(p))
        await uow.commit()


async def test_round_trip_and_lookups(uows) -> None:
    f = uows[0]
    p = payment(patient="pat-1")
    await _add(f, p)
    async with f() as uow:
        assert (await uow.payments.get_many([p.id, "nope"])) == {p.id: p}
        assert await uow.payments.find_by_idempotency_key("billing-1", "k1") == p
        assert await uow.payments.find_by_idempotency_key("someone-else", "k1") is None
        assert await uow.payments.find_by_callback_hash(p.callback_token_hash) == p
        history = (await uow.payments.history([p.id]))[p.id]
        assert [(t.from_status, t.to_status) for t in history] == [(None, S.CREATED)]


async def test_idempotency_key_is_unique_per_caller(uows) -> None:
    f = uows[0]
    await _add(f, payment(key="same"), payment(key="same", by="billing-2"))
    with pytest.raises(DuplicatePayment):
        async with f() as uow:
            await uow.payments.add(payment(key="same"), created(payment()))


async def test_transition_is_compare_and_set(uows) -> None:
    f = uows[0]
    p = payment()
    await _add(f, p)
    async with f() as uow:
        assert await uow.payments.transition(p.id, S.CREATED, moved(p, S.CREATED, S.PENDING),
                                             {"provider_reference": "ws_1"})
        assert not await uow.payments.transition(p.id, S.CREATED,
                                                 moved(p, S.CREATED, S.FAILED), {})
        await uow.commit()
    async with f() as uow:
        stored = (await uow.payments.get_many([p.id]))[p.id]
        assert stored.status == S.PENDING and stored.provider_reference == "ws_1"
        assert await uow.payments.find_by_provider_reference("mpesa", "ws_1") == stored
        assert len((await uow.payments.history([p.id]))[p.id]) == 2


async def test_claim_on_next_check_and_due(uows) -> None:
    f = uows[0]
    due, later = payment(key="a"), payment(key="b", next_check_at=NOW + timedelta(hours=1))
    await _add(f, due, later)
    async with f() as uow:
        assert [p.id for p in await uow.payments.due(NOW + timedelta(minutes=1), 10)] == [due.id]
        assert await uow.payments.update(due.id, {"checks": 1}, expected_next_check=due.next_check_at)
        assert not await uow.payments.update(due.id, {"checks": 2},
                                             expected_next_check=NOW - timedelta(days=1))
        await uow.commit()


async def test_search_filters_and_pages(uows) -> None:
    f = uows[0]
    ps = [payment(key=str(i), patient="p1" if i % 2 else "p2", reference=f"INV-{i}")
          for i in range(5)]
    await _add(f, *ps)
    async with f() as uow:
        newest_first = [p.id for p in reversed(ps)]
        page1 = await uow.payments.search(PaymentQuery(limit=3))
        page2 = await uow.payments.search(PaymentQuery(limit=3, after=page1[-1].id))
        assert [p.id for p in page1 + page2] == newest_first
        assert {p.patient_id for p in await uow.payments.search(
            PaymentQuery(patient_ids=("p1",)))} == {"p1"}
        assert [p.reference for p in await uow.payments.search(
            PaymentQuery(reference="INV-3"))] == ["INV-3"]
        assert await uow.payments.search(PaymentQuery(status=S.SUCCEEDED)) == []


async def test_twenty_concurrent_identical_transitions_apply_once(uows) -> None:
    """Separate transactions (and on PostgreSQL two engines, like two processes)."""
    p = payment()
    await _add(uows[0], p)

    async def attempt(i: int) -> bool:
        async with uows[i % len(uows)]() as uow:
            won: bool = await uow.payments.transition(
                p.id, S.CREATED, moved(p, S.CREATED, S.PENDING), {})
            await uow.commit()
            return won

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert sum(results) == 1
    async with uows[0]() as uow:
        assert len((await uow.payments.history([p.id]))[p.id]) == 2
