"""In-memory twins of the webhook inbox ports (event repository, suppressions, leads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from resolvers.webhooks.model import Lead, WebhookEvent, WebhookEventQuery


@dataclass
class WebhookMemoryState:
    events: dict[str, WebhookEvent] = field(default_factory=dict)


class InMemoryWebhookEventRepository:
    """Works on a staged copy of the state that the unit of work swaps in on commit."""

    def __init__(self, state: WebhookMemoryState) -> None:
        self._state = state

    async def add(self, event: WebhookEvent) -> bool:
        if await self.get_by_key(event.provider, event.event_id) is not None:
            return False
        self._state.events[event.id] = event
        return True

    async def add_many(self, events: Sequence[WebhookEvent]) -> set[str]:
        return {e.id for e in events if await self.add(e)}

    async def get_by_keys(self, keys: Sequence[tuple[str, str]],
                          ) -> dict[tuple[str, str], WebhookEvent]:
        wanted = set(keys)
        return {(e.provider, e.event_id): e for e in self._state.events.values()
                if (e.provider, e.event_id) in wanted}

    async def get(self, event_id: str) -> WebhookEvent | None:
        return self._state.events.get(event_id)

    async def get_by_key(self, provider: str, provider_event_id: str) -> WebhookEvent | None:
        return next((e for e in self._state.events.values()
                     if e.provider == provider and e.event_id == provider_event_id), None)

    async def search(self, query: WebhookEventQuery) -> list[WebhookEvent]:
        found = sorted(self._state.events.values(), key=lambda e: e.id, reverse=True)
        if query.provider:
            found = [e for e in found if e.provider == query.provider]
        if query.status:
            found = [e for e in found if e.status == query.status.value]
        if query.after:
            found = [e for e in found if e.id < query.after]
        return found[: query.limit]

    async def set_status(self, event_id: str, *, status: str, attempts: int,
                         last_error: str | None, processed_at: datetime | None) -> None:
        event = self._state.events.get(event_id)
        if event is not None:
            self._state.events[event_id] = replace(
                event, status=status, attempts=attempts, last_error=last_error,
                processed_at=processed_at)


class InMemorySuppressionList:
    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    async def suppress(self, addresses: list[str], *, reason: str, webhook_event_id: str) -> None:
        for address in addresses:
            self.reasons.setdefault(address, reason)

    async def is_suppressed(self, address: str) -> bool:
        return address.strip().lower() in self.reasons


class InMemoryLeadStore:
    def __init__(self) -> None:
        self.leads: dict[str, Lead] = {}

    async def add(self, lead: Lead) -> None:
        self.leads.setdefault(lead.webhook_event_id, lead)
