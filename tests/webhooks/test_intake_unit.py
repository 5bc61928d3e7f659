"""The intake, dispatcher and admin use cases on the in-memory twins, with the real worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from adapters.memory.store import InMemoryOutboxStore, InMemoryUnitOfWork, MemoryState
from adapters.memory.webhooks import InMemoryLeadStore, InMemorySuppressionList
from resolvers.errors import Forbidden, NotFound
from resolvers.outbox.model import OutboxStatus
from resolvers.outbox.worker import OutboxWorker, RetryPolicy
from resolvers.principal import Caller, Principal
from resolvers.webhooks.admin import WebhookAdmin
from resolvers.webhooks.dispatch import InboxDispatcher
from resolvers.webhooks.handlers import LeadCapture, ResendSuppressions, stripe_events
from resolvers.webhooks.intake import WebhookIntake
from resolvers.webhooks.model import (
    INBOX_DESTINATION,
    EventHandler,
    EventStatus,
    IgnoredEvent,
    InboundEvent,
    WebhookEventQuery,
)
from tests.webhooks.helpers import Recorder

ADMIN = Caller(Principal(subject="ops", roles=frozenset({"admin"})))
CLINICIAN = Caller(Principal(subject="doc", roles=frozenset({"clinician"})))


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class World:
    def __init__(self, handlers: dict[str, EventHandler], max_attempts: int = 3) -> None:
        self.state = MemoryState()
        clock = Clock()

        def uow() -> InMemoryUnitOfWork:
            return InMemoryUnitOfWork(self.state, clock.now)

        self.intake = WebhookIntake(uow, clock)
        self.admin = WebhookAdmin(uow, clock)
        dispatcher = InboxDispatcher(uow, clock, handlers, max_attempts=max_attempts)
        self.worker = OutboxWorker(InMemoryOutboxStore(self.state),
                                   {INBOX_DESTINATION: dispatcher}, clock,
                                   RetryPolicy(max_attempts=max_attempts, base_seconds=0,
                                               max_seconds=0))

    async def drain(self) -> None:
        while await self.worker.run_once():
            pass


def _event(event_id: str = "evt_1", event_type: str = "payment_intent.succeeded",
           provider: str = "stripe") -> InboundEvent:
    return InboundEvent(provider=provider, event_id=event_id, event_type=event_type,
                        payload={"id": event_id}, subject_id="pay_1")


async def test_receive_stores_event_and_job_together_and_dedupes() -> None:
    world = World({})
    first = await world.intake.receive(_event())
    again = await world.intake.receive(_event())
    other = await world.intake.receive(_event(provider="livekit"))  # same id, other provider
    assert not first.duplicate and again.duplicate and not other.duplicate
    assert again.event == first.event and other.event.id != first.event.id
    jobs = [m for m in world.state.outbox.values() if m.destination == INBOX_DESTINATION]
    assert sorted(m.idempotency_key for m in jobs) == sorted(
        f"webhook-event:{e.id}" for e in (first.event, other.event))


async def test_concurrent_receives_store_one_event() -> None:
    world = World({})
    results = await asyncio.gather(*(world.intake.receive(_event()) for _ in range(20)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.event.id for r in results}) == 1
    assert len(world.state.webhooks.events) == 1 and len(world.state.outbox) == 1


async def test_dispatch_outcomes() -> None:
    flaky = Recorder(fail_times=1)
    world = World({"stripe": stripe_events({"payment_intent.*": flaky})})
    ok = await world.intake.receive(_event("evt_ok"))
    ignored = await world.intake.receive(_event("evt_ign", "customer.created"))
    unknown = await world.intake.receive(_event("x", provider="nobody"))
    await world.worker.run_once()
    failed = world.state.webhooks.events[ok.event.id]
    assert (failed.status, failed.attempts) == (EventStatus.FAILED, 1)
    assert failed.last_error == "RuntimeError: downstream unavailable"
    await world.drain()
    events = world.state.webhooks.events
    assert events[ok.event.id].status == EventStatus.PROCESSED
    assert events[ok.event.id].attempts == 2 and events[ok.event.id].processed_at is not None
    assert events[ignored.event.id].status == EventStatus.IGNORED
    assert events[unknown.event.id].status == EventStatus.IGNORED
    assert {m.status for m in world.state.outbox.values()} == {OutboxStatus.DELIVERED}


async def test_dead_after_max_attempts_then_replay() -> None:
    always = Recorder(fail_times=99)
    world = World({"stripe": always}, max_attempts=2)
    received = await world.intake.receive(_event())
    await world.drain()
    dead = world.state.webhooks.events[received.event.id]
    assert (dead.status, dead.attempts) == (EventStatus.DEAD, 2)
    assert [m.status for m in world.state.outbox.values()] == [OutboxStatus.DEAD]

    always.fail_times = 0
    with pytest.raises(Forbidden):
        await world.admin.replay(CLINICIAN, received.event.id)
    with pytest.raises(NotFound):
        await world.admin.replay(ADMIN, "missing")
    replayed = await world.admin.replay(ADMIN, received.event.id)
    assert replayed.status == EventStatus.RECEIVED
    await world.drain()
    done = world.state.webhooks.events[received.event.id]
    assert (done.status, done.attempts, done.last_error) == (EventStatus.PROCESSED, 3, None)
    listed = await world.admin.search(ADMIN, WebhookEventQuery(status=EventStatus.PROCESSED))
    assert [e.id for e in listed] == [received.event.id]


async def test_resend_and_lead_handlers_are_idempotent() -> None:
    suppressions, leads = InMemorySuppressionList(), InMemoryLeadStore()
    world = World({"resend": ResendSuppressions(suppressions), "lead": LeadCapture(leads)})
    bounce = InboundEvent("resend", "msg_1", "email.bounced", {"data": {
        "to": ["A@Example.org", "b@example.org"], "bounce": {"type": "Permanent"}}})
    lead = InboundEvent("lead", "website:1", "lead.captured", {
        "source": "website", "lead": {"email": "c@example.org", "consent": True}})
    for event in (bounce, lead):
        stored = await world.intake.receive(event)
        await world.drain()
        await world.admin.replay(ADMIN, stored.event.id)  # processed twice: same outcome
        await world.drain()
    assert suppressions.reasons == {"a@example.org": "bounced", "b@example.org": "bounced"}
    assert await suppressions.is_suppressed(" A@example.ORG ")
    assert [(x.source, x.email, x.consent) for x in leads.leads.values()] == [
        ("website", "c@example.org", True)]


async def test_router_prefix_patterns() -> None:
    calls = Recorder()
    router = stripe_events({"invoice.*": calls}).with_handlers({"charge.refunded": calls})
    world = World({"stripe": router})
    for event_type in ("invoice.paid", "charge.refunded", "charge.succeeded"):
        await world.intake.receive(_event(event_type, event_type))
    await world.drain()
    assert sorted(c.event_type for c in calls.calls) == ["charge.refunded", "invoice.paid"]
    with pytest.raises(IgnoredEvent):
        await router(next(iter(world.state.webhooks.events.values())).__class__(
            **{**vars(calls.calls[0]), "event_type": "charge.succeeded"}))
