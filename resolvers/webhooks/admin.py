"""Admin use cases on the webhook inbox: list, inspect, replay one event."""

from __future__ import annotations

from dataclasses import replace

from resolvers.errors import NotFound
from resolvers.ids import new_id
from resolvers.ports import Clock, UnitOfWorkFactory
from resolvers.principal import Caller, require_role
from resolvers.webhooks.intake import inbox_job
from resolvers.webhooks.model import EventStatus, WebhookEvent, WebhookEventQuery

MAX_PAGE = 200


class WebhookAdmin:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def search(self, caller: Caller, query: WebhookEventQuery) -> list[WebhookEvent]:
        require_role(caller)
        async with self._uow() as uow:
            return await uow.webhooks.search(
                replace(query, limit=max(1, min(query.limit, MAX_PAGE))))

    async def get(self, caller: Caller, event_id: str) -> WebhookEvent:
        require_role(caller)
        async with self._uow() as uow:
            event = await uow.webhooks.get(event_id)
        if event is None:
            raise NotFound(f"no webhook event {event_id}")
        return event

    async def replay(self, caller: Caller, event_id: str) -> WebhookEvent:
        """Process the event again with a new job (whatever its status) from attempt one."""
        require_role(caller)
        async with self._uow() as uow:
            event = await uow.webhooks.get(event_id)
            if event is None:
                raise NotFound(f"no webhook event {event_id}")
            await uow.webhooks.set_status(event.id, status=EventStatus.RECEIVED.value,
                                          attempts=event.attempts, last_error=event.last_error,
                                          processed_at=None)
            await uow.outbox.enqueue([inbox_job(event, f":replay:{new_id()}")])
            await uow.commit()
        return replace(event, status=EventStatus.RECEIVED.value, processed_at=None)
