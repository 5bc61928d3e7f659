"""Admin use cases on the webhook inbox: list, inspect, replay one event.

Payloads are what providers sent (a Stripe customer, a lead's contact details, payment
metadata naming a patient), so every admin read and replay is audited like patient data.
"""

from __future__ import annotations

from dataclasses import replace

from resolvers.audit.access import require_role_audited
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.errors import NotFound
from resolvers.ids import new_id
from resolvers.principal import Caller
from resolvers.webhooks.intake import inbox_job
from resolvers.webhooks.model import EventStatus, WebhookEvent, WebhookEventQuery
from resolvers.webhooks.ports import WebhooksUnitOfWorkFactory

MAX_PAGE = 200
RESOURCE = "WebhookEvent"


class WebhookAdmin:
    def __init__(self, uow: WebhooksUnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def _require_admin(self, caller: Caller, action: AuditAction,
                             event_id: str | None = None) -> None:
        await require_role_audited(self._uow, self._clock, caller, action=action,
                                   resource_type=RESOURCE, targets=[(event_id, None)])

    async def search(self, caller: Caller, query: WebhookEventQuery) -> list[WebhookEvent]:
        await self._require_admin(caller, AuditAction.READ)
        async with self._uow() as uow:
            found = await uow.webhooks.search(
                replace(query, limit=max(1, min(query.limit, MAX_PAGE))))
            await uow.audit.append(audit_records(
                caller, action=AuditAction.READ, resource_type=RESOURCE,
                targets=[(e.id, None) for e in found] or [(None, None)],
                outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
            await uow.commit()
        return found

    async def get(self, caller: Caller, event_id: str) -> WebhookEvent:
        await self._require_admin(caller, AuditAction.READ, event_id)
        async with self._uow() as uow:
            event = await uow.webhooks.get(event_id)
            await uow.audit.append(audit_records(
                caller, action=AuditAction.READ, resource_type=RESOURCE,
                targets=[(event_id, None)],
                outcome=AuditOutcome.SUCCESS if event else AuditOutcome.NOT_FOUND,
                at=self._clock.now()))
            await uow.commit()
        if event is None:
            raise NotFound(f"no webhook event {event_id}")
        return event

    async def replay(self, caller: Caller, event_id: str) -> WebhookEvent:
        """Process the event again with a new job (whatever its status) from attempt one."""
        await self._require_admin(caller, AuditAction.EXECUTE, event_id)
        async with self._uow() as uow:
            event = await uow.webhooks.get(event_id)
            await uow.audit.append(audit_records(
                caller, action=AuditAction.EXECUTE, resource_type=RESOURCE,
                targets=[(event_id, None)],
                outcome=AuditOutcome.SUCCESS if event else AuditOutcome.NOT_FOUND,
                at=self._clock.now()))
            if event is None:
                await uow.commit()
                raise NotFound(f"no webhook event {event_id}")
            await uow.webhooks.set_status(event.id, status=EventStatus.RECEIVED.value,
                                          attempts=event.attempts, last_error=event.last_error,
                                          processed_at=None)
            await uow.outbox.enqueue([inbox_job(event, f":replay:{new_id()}")])
            await uow.commit()
        return replace(event, status=EventStatus.RECEIVED.value, processed_at=None)
