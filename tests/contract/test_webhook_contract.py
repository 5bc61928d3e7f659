"""Webhook inbox, suppressions and leads: asserted identically on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from resolvers.ids import new_id
from resolvers.webhooks.handlers import Lead
from resolvers.webhooks.model import EventStatus, WebhookEvent, WebhookEventQuery
from tests.contract.conftest import Backend

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(provider: str, event_id: str, status: EventStatus = EventStatus.RECEIVED,
           ) -> WebhookEvent:
    return WebhookEvent(
        id=new_id(), provider=provider, event_id=event_id, event_type="payment_intent.succeeded",
        subject_id="pay-1",
        payload={"id": event_id, "data": {"object": {"amount": 1250, "tags": ["a", "b"]}}},
        status=status.value, attempts=0, last_error=None, received_at=NOW, processed_at=None)


async def test_an_event_is_stored_once_per_provider_and_event_id(backend: Backend) -> None:
    first = _event("stripe", "evt_1")
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.add(first)
        assert not await uow.webhooks.add(_event("stripe", "evt_1"))  # a redelivery
        other_provider = _event("resend", "evt_1")
        assert await uow.webhooks.add(other_provider)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.get(first.id) == first
        assert await uow.webhooks.get("absent") is None
        assert await uow.webhooks.get_by_key("stripe", "evt_1") == first
        assert await uow.webhooks.get_by_key("stripe", "evt_2") is None
        assert await uow.webhooks.get_by_keys([("stripe", "evt_1"), ("resend", "evt_1"),
                                               ("livekit", "evt_1")]) == {
            ("stripe", "evt_1"): first, ("resend", "evt_1"): other_provider}
        assert await uow.webhooks.get_by_keys([]) == {}


async def test_add_many_stores_only_new_events(backend: Backend) -> None:
    stored = _event("mpesa", "ws_CO_1")
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.add_many([stored]) == {stored.id}
        assert await uow.webhooks.add_many([]) == set()
        await uow.commit()
    fresh, repeat, same_batch_repeat = (_event("mpesa", "ws_CO_2"), _event("mpesa", "ws_CO_1"),
                                        _event("mpesa", "ws_CO_2"))
    async with backend.new_unit_of_work() as uow:
        # The first of a key in one batch wins; one already stored is left as it was.
        assert await uow.webhooks.add_many([fresh, repeat, same_batch_repeat]) == {fresh.id}
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.get_by_keys([("mpesa", "ws_CO_1"), ("mpesa", "ws_CO_2")]) == {
            ("mpesa", "ws_CO_1"): stored, ("mpesa", "ws_CO_2"): fresh}
        assert await uow.webhooks.get(repeat.id) is None


async def test_status_moves_through_attempts(backend: Backend) -> None:
    event = _event("stripe", "evt_9")
    async with backend.new_unit_of_work() as uow:
        await uow.webhooks.add(event)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        await uow.webhooks.set_status(event.id, status=EventStatus.FAILED.value, attempts=1,
                                      last_error="handler timed out", processed_at=None)
        await uow.webhooks.set_status("absent", status=EventStatus.DEAD.value, attempts=9,
                                      last_error="x", processed_at=NOW)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.get(event.id) == replace(
            event, status="failed", attempts=1, last_error="handler timed out")
        done_at = NOW + timedelta(minutes=3)
        await uow.webhooks.set_status(event.id, status=EventStatus.PROCESSED.value, attempts=2,
                                      last_error=None, processed_at=done_at)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.get_by_key("stripe", "evt_9") == replace(
            event, status="processed", attempts=2, processed_at=done_at)
        assert await uow.webhooks.get("absent") is None


async def test_search_filters_and_pages_newest_first(backend: Backend) -> None:
    events = [_event("stripe", "e1"), _event("resend", "e2", EventStatus.DEAD),
              _event("stripe", "e3", EventStatus.DEAD), _event("stripe", "e4")]
    async with backend.new_unit_of_work() as uow:
        assert await uow.webhooks.add_many(events) == {e.id for e in events}
        await uow.commit()

    async def found(**query: object) -> list[str]:
        async with backend.new_unit_of_work() as uow:
            return [e.event_id for e in await uow.webhooks.search(WebhookEventQuery(**query))]  # type: ignore[arg-type]

    assert await found() == ["e4", "e3", "e2", "e1"]
    assert await found(provider="stripe") == ["e4", "e3", "e1"]
    assert await found(status=EventStatus.DEAD) == ["e3", "e2"]
    assert await found(provider="stripe", status=EventStatus.DEAD) == ["e3"]
    assert await found(status=EventStatus.IGNORED) == []
    assert await found(limit=2) == ["e4", "e3"]
    assert await found(after=events[2].id, limit=5) == ["e2", "e1"]
    assert await found(provider="stripe", after=events[3].id, limit=1) == ["e3"]


async def test_events_not_committed_are_not_stored(backend: Backend) -> None:
    dropped, kept = _event("stripe", "evt_dropped"), _event("stripe", "evt_kept")
    async with backend.new_unit_of_work() as uow:
        await uow.webhooks.add(dropped)
        await uow.rollback()
        await uow.webhooks.add(kept)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        await uow.webhooks.add(_event("stripe", "evt_left"))  # leaving without commit
    async with backend.new_unit_of_work() as uow:
        assert [e.event_id for e in await uow.webhooks.search(WebhookEventQuery())] == ["evt_kept"]
        # The dropped event's key is free again.
        assert await uow.webhooks.add(_event("stripe", "evt_dropped"))


async def test_suppressed_addresses_stay_suppressed(backend: Backend) -> None:
    suppressions = backend.suppressions
    assert not await suppressions.is_suppressed("amina@example.org")
    await suppressions.suppress(["amina@example.org", "kofi@example.org"], reason="bounced",
                                webhook_event_id="ev-1")
    await suppressions.suppress(["amina@example.org"], reason="complained",
                                webhook_event_id="ev-2")
    await suppressions.suppress([], reason="bounced", webhook_event_id="ev-3")
    assert await suppressions.is_suppressed("amina@example.org")
    assert await suppressions.is_suppressed("  Kofi@Example.ORG ")  # asked as it is written
    assert not await suppressions.is_suppressed("ama@example.org")


async def test_a_lead_is_kept_once_per_webhook_event(backend: Backend) -> None:
    lead = Lead(webhook_event_id="ev-1", source="website", name="Wanjiru", email="w@example.org",
                phone="+254700000001", organisation="Nairobi Clinic", country="KE",
                message="Please call", consent=True)
    await backend.leads.add(lead)
    await backend.leads.add(replace(lead, name="Someone else", consent=False))
    other = replace(lead, webhook_event_id="ev-2", email=None, phone=None, organisation=None,
                    country=None, message=None, consent=False)
    await backend.leads.add(other)
    stored = sorted(await backend.stored_leads(), key=lambda x: x.webhook_event_id)
    assert stored == [lead, other]
