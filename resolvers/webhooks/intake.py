"""WebhookIntake: verify a delivery, then store it with its processing job in one transaction.

The answer to the provider depends only on this: once the row and its outbox job are
committed the event cannot be lost, and the outbox worker processes it (retries, backoff,
dead letters, leases) with the InboxDispatcher.

Deliveries that arrive together are stored together (group commit, as lab ingest does): one
multi-row insert and one outbox insert per transaction, each provider still answered only
after the commit that holds its event. Two copies of one event never share a transaction;
the later one finds the first stored and is answered as a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from resolvers.clock import Clock
from resolvers.errors import Conflict
from resolvers.group_commit import GroupCommit
from resolvers.ids import new_id
from resolvers.outbox.model import NewOutboxMessage
from resolvers.webhooks.errors import MalformedDelivery, ProviderNotConfigured, SignatureRejected
from resolvers.webhooks.model import (
    INBOX_DESTINATION,
    EventStatus,
    InboundEvent,
    IntakeResult,
    WebhookEvent,
)
from resolvers.webhooks.ports import RejectionCounter, WebhooksUnitOfWorkFactory, WebhookVerifier

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
        uow: WebhooksUnitOfWorkFactory,
        clock: Clock,
        verifiers: Mapping[str, WebhookVerifier] | None = None,
        rejections: RejectionCounter | None = None,
        *,
        max_parallel: int = 1,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._verifiers = dict(verifiers or {})
        self._rejections: RejectionCounter = rejections or _no_count
        self._commit: GroupCommit[InboundEvent, IntakeResult] = GroupCommit(
            self._store, lambda e: frozenset({(e.provider, e.event_id)}),
            max_batch=100, max_parallel=max_parallel)

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
        return await self._commit.submit(event)

    async def receive_many(self, events: Sequence[InboundEvent]) -> list[IntakeResult]:
        """The items of one delivery (a WhatsApp POST carries many) stored in ONE transaction
        with their processing jobs, or none of them; repeats answered as duplicates."""
        unique = list({(e.provider, e.event_id): e for e in events}.values())
        if not unique:
            return []
        results = await self._store(unique)
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise outcome
        return [r for r in results if isinstance(r, IntakeResult)]

    async def _store(self, events: Sequence[InboundEvent],
                     ) -> list[IntakeResult | BaseException]:
        now = self._clock.now()
        stored = [WebhookEvent(
            id=new_id(), provider=e.provider, event_id=e.event_id, event_type=e.event_type,
            subject_id=e.subject_id, payload=dict(e.payload), status=EventStatus.RECEIVED.value,
            attempts=0, last_error=None, received_at=now, processed_at=None) for e in events]
        async with self._uow() as uow:
            # A concurrent insert of the same key (another process) waits for that transaction
            # and then does nothing (unique constraint): exactly one delivery gets a new row.
            new = await uow.webhooks.add_many(stored)
            await uow.outbox.enqueue([inbox_job(s) for s in stored if s.id in new])
            firsts = await uow.webhooks.get_by_keys(
                [(s.provider, s.event_id) for s in stored if s.id not in new])
            await uow.commit()
        out: list[IntakeResult | BaseException] = []
        for s in stored:
            if s.id in new:
                log.info("webhook stored", extra={"provider": s.provider,
                                                  "webhook_event_id": s.id,
                                                  "event_type": s.event_type})
                out.append(IntakeResult(event=s, duplicate=False))
            elif (first := firsts.get((s.provider, s.event_id))) is not None:
                out.append(IntakeResult(event=first, duplicate=True))
            else:  # the other insert rolled back between our two statements
                out.append(Conflict("the same event is being stored concurrently; "
                                    "deliver it again"))
        return out
