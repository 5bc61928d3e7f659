"""InboxDispatcher: the outbox delivery handler that processes stored webhook events.

The outbox worker gives it retries with backoff, leases, dead letters and replay; the
dispatcher calls the provider's handler and records the outcome on the event row. Handlers
may run more than once for one event (a worker can die after the handler and before the
status is recorded), so they must be idempotent, keyed on the event or the object it names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from resolvers.clock import Clock
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage
from resolvers.webhooks.model import (
    EventHandler,
    EventStatus,
    IgnoredEvent,
    PermanentEventError,
    WebhookEvent,
)
from resolvers.webhooks.ports import WebhooksUnitOfWorkFactory

log = logging.getLogger("cari.webhooks")

MAX_ERROR_LENGTH = 500
_DONE = (EventStatus.PROCESSED.value, EventStatus.IGNORED.value)


def _describe(exc: BaseException) -> str:
    # Handlers raise with messages about the event, never personal data (see handlers).
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


class InboxDispatcher:
    def __init__(self, uow: WebhooksUnitOfWorkFactory, clock: Clock,
                 handlers: Mapping[str, EventHandler], *, max_attempts: int) -> None:
        self._uow = uow
        self._clock = clock
        self._handlers = dict(handlers)
        self._max_attempts = max_attempts

    async def deliver(self, message: OutboxMessage) -> None:
        event_id = message.payload.get("webhook_event_id")
        if not isinstance(event_id, str):
            raise PermanentDeliveryError("inbox job without webhook_event_id")
        async with self._uow() as uow:
            event = await uow.webhooks.get(event_id)
        if event is None:
            raise PermanentDeliveryError(f"no webhook event {event_id}")
        if event.status in _DONE:
            return  # a job redelivered after the outcome was recorded: nothing left to do
        attempts = event.attempts + 1
        handler = self._handlers.get(event.provider)
        try:
            if handler is None:
                raise IgnoredEvent(f"no handler for provider {event.provider!r}")
            await handler(event)
        except IgnoredEvent as exc:
            await self._record(event, EventStatus.IGNORED, attempts, str(exc)[:MAX_ERROR_LENGTH])
            return
        except PermanentEventError as exc:
            await self._record(event, EventStatus.DEAD, attempts, _describe(exc))
            raise PermanentDeliveryError(_describe(exc)) from exc
        except Exception as exc:
            # The worker dead-letters the job on this same attempt count.
            last = message.attempts + 1 >= self._max_attempts
            await self._record(event, EventStatus.DEAD if last else EventStatus.FAILED, attempts,
                               _describe(exc))
            raise
        await self._record(event, EventStatus.PROCESSED, attempts, None)

    async def _record(self, event: WebhookEvent, status: EventStatus, attempts: int,
                      error: str | None) -> None:
        done = status in (EventStatus.PROCESSED, EventStatus.IGNORED)
        async with self._uow() as uow:
            await uow.webhooks.set_status(
                event.id, status=status.value, attempts=attempts, last_error=error,
                processed_at=self._clock.now() if done else None)
            await uow.commit()
        log.info("webhook event settled", extra={"provider": event.provider,
                                                  "webhook_event_id": event.id,
                                                  "event_type": event.event_type,
                                                  "status": status.value, "attempt": attempts})
