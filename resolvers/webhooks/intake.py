"""WebhookIntake: verify a delivery, then store it with its processing job in one transaction.

The answer to the provider depends only on this: once the row and its outbox job are
committed the event cannot be lost, and the outbox worker processes it (retries, backoff,
dead letters, leases) with the InboxDispatcher.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from resolvers.errors import Conflict
from resolvers.ids import new_id
from resolvers.outbox.model import NewOutboxMessage
from resolvers.ports import Clock, UnitOfWorkFactory
from resolvers.webhooks.errors import MalformedDelivery, ProviderNotConfigured, SignatureRejected
from resolvers.webhooks.model import (
    INBOX_DESTINATION,
    EventStatus,
    InboundEvent,
    IntakeResult,
    WebhookEvent,
)
from resolvers.webhooks.ports import RejectionCounter, WebhookVerifier

log = logging.getLogger("cari.webhooks")


def inbox_job(event: WebhookEvent, key_suffix: str = "") -> NewOutboxMessage:
    """The outbox message that has the worker process ``event`` (once per key)."""
    return NewOutboxMessage(
        destination=INBOX_DESTINATION,
        payload={"type": f"webhook.{event.provider}", "webhook_event_id": event.id,
                 "provider": event.provider, "event_type": event.event_type},
        idempotency_key=f"webhook-event:{event.id}{key_suffix}",
    )


def _no_count(provider: str, reason: str) -> None:
    return None


class WebhookIntake:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        verifiers: Mapping[str, WebhookVerifier] | None = None,
        rejections: RejectionCounter | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._verifiers = dict(verifiers or {})
        self._rejections: RejectionCounter = rejections or _no_count

    def configured(self, provider: str) -> bool:
        return provider in self._verifiers

    def verify(self, provider: str, raw: bytes, headers: Mapping[str, str]) -> InboundEvent:
        """Authenticate a delivery by the provider's scheme; every refusal is counted."""
        verifier = self._verifiers.get(provider)
        if verifier is None:
            self._rejections(provider, "not_configured")
            raise ProviderNotConfigured(
                f"{provider} webhooks are not configured on this gateway (no secret): "
                "deliveries are refused until an operator sets one")
        try:
            return verifier.verify(raw, headers)
        except (SignatureRejected, MalformedDelivery) as exc:
            self._rejections(provider, exc.reason)
            log.info("webhook refused", extra={"provider": provider, "reason": exc.reason})
            raise

    async def receive(self, event: InboundEvent) -> IntakeResult:
        """Store the event and its processing job, or return the first copy of a repeat."""
        stored = WebhookEvent(
            id=new_id(), provider=event.provider, event_id=event.event_id,
            event_type=event.event_type, subject_id=event.subject_id,
            payload=dict(event.payload), status=EventStatus.RECEIVED.value, attempts=0,
            last_error=None, received_at=self._clock.now(), processed_at=None)
        async with self._uow() as uow:
            # A concurrent insert of the same key waits for the other transaction and then
            # does nothing (unique constraint), so exactly one delivery gets a new row.
            if await uow.webhooks.add(stored):
                await uow.outbox.enqueue([inbox_job(stored)])
                await uow.commit()
                log.info("webhook stored", extra={"provider": event.provider,
                                                  "webhook_event_id": stored.id,
                                                  "event_type": event.event_type})
                return IntakeResult(event=stored, duplicate=False)
            first = await uow.webhooks.get_by_key(event.provider, event.event_id)
        if first is None:  # the other insert rolled back between our two statements
            raise Conflict("the same event is being stored concurrently; deliver it again")
        return IntakeResult(event=first, duplicate=True)
