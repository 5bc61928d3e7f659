"""The outbox handler of ``webhook_delivery``: one signed POST of one event to one endpoint.

Standard Webhooks: ``webhook-id`` (the event id: the same on every retry and replay, so a
consumer dedupes on it), ``webhook-timestamp`` (this attempt's, in seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per
valid secret: two during a rotation's grace period). Each attempt is logged with its status
code, time and a truncated response. A 2xx is success; 410 Gone disables the endpoint; every
other failure is retried on the endpoint schedule (policy.py) by the outbox worker, which
raises it here as an exception.

Delivery is at least once and not ordered: each delivery retries on its own schedule, and the
worker sends a batch concurrently, so a later event may arrive before an earlier one that is
being retried. Consumers order by ``timestamp``/resource version and dedupe by ``webhook-id``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

from resolvers.clock import Clock
from resolvers.group_commit import GroupCommit
from resolvers.ids import new_id
from resolvers.notifications.events import webhook_event
from resolvers.notifications.model import (
    Attempt,
    AttemptOutcome,
    DeliveryStatus,
    Endpoint,
    SendResult,
)
from resolvers.notifications.policy import DeliveryPolicy, retryable, succeeded
from resolvers.notifications.ports import WebhookSender, WebhookSigner, WebhookStore
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage

log = logging.getLogger("cari.notifications")


class EndpointFailed(Exception):
    """This attempt failed; the outbox worker retries it on the webhook schedule."""


class WebhookDeliveryHandler:
    def __init__(self, store: WebhookStore, sender: WebhookSender, signer: WebhookSigner,
                 clock: Clock, policy: DeliveryPolicy, *, max_parallel: int = 1) -> None:
        self._store = store
        self._sender = sender
        self._signer = signer
        self._clock = clock
        self._policy = policy
        # The worker sends a batch at once; their attempt records share transactions (one
        # commit per delivery capped SQLite at about 200 deliveries/s).
        self._records: GroupCommit[AttemptOutcome, None] = GroupCommit(
            write=self._write, conflict_keys=lambda o: frozenset({o.attempt.delivery_id}),
            max_parallel=max_parallel)

    async def _write(self, outcomes: Sequence[AttemptOutcome]) -> list[BaseException | None]:
        await self._store.record_attempts(outcomes)
        return [None] * len(outcomes)

    async def deliver(self, message: OutboxMessage) -> None:
        delivery_id = str(message.payload.get("delivery_id", ""))
        found = await self._store.delivery_context(delivery_id)
        if found is None:
            return  # the endpoint was deleted with its deliveries: nothing left to send
        delivery, endpoint, event = found
        now = self._clock.now()
        if not endpoint.enabled:
            # Not sent, not lost: replaying after the endpoint is enabled again sends it.
            await self._store.set_delivery_status(delivery.id, DeliveryStatus.SKIPPED, now)
            return
        body = json.dumps(event.body(), separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.signature(endpoint.signing_secrets(now), event.id,
                                                        now, body),
        }
        result = await self._sender.send(endpoint.url, body, headers,
                                         self._policy.timeout_seconds)
        await self._settle(message, delivery.id, endpoint, result, now)

    async def _settle(self, message: OutboxMessage, delivery_id: str, endpoint: Endpoint,
                      result: SendResult, now: datetime) -> None:
        attempt = Attempt(id=new_id(), delivery_id=delivery_id, endpoint_id=endpoint.id,
                          attempted_at=now, status_code=result.status_code,
                          duration_ms=round(result.duration_ms, 3),
                          response_excerpt=_cut(result.response_excerpt,
                                                self._policy.response_excerpt_chars),
                          error=_cut(result.error, 500))
        if succeeded(result.status_code):
            await self._records.submit(AttemptOutcome(attempt, DeliveryStatus.SUCCEEDED, None))
            return
        failing_since = endpoint.failing_since or now
        last = message.attempts + 1 >= self._policy.max_attempts
        give_up = not retryable(result.status_code)
        status = (DeliveryStatus.FAILED if give_up else
                  DeliveryStatus.EXHAUSTED if last else DeliveryStatus.PENDING)
        await self._records.submit(AttemptOutcome(attempt, status, failing_since))
        why = f"answered {result.status_code}" if result.status_code else str(result.error)
        if give_up:
            await self._disable(endpoint, "the endpoint answered 410 Gone", now)
            raise PermanentDeliveryError(f"endpoint {endpoint.id} {why}")
        if now - failing_since >= self._policy.disable_after:
            await self._disable(endpoint, f"every attempt failed since "
                                f"{failing_since.isoformat()}", now)
            await self._store.set_delivery_status(delivery_id, DeliveryStatus.FAILED, now)
            raise PermanentDeliveryError(f"endpoint {endpoint.id} disabled: {why}")
        raise EndpointFailed(f"endpoint {endpoint.id} {why}")

    async def _disable(self, endpoint: Endpoint, reason: str, now: datetime) -> None:
        announce = [webhook_event(
            "webhook.endpoint.disabled",
            {"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason}, now,
            key=f"{endpoint.id}:{now.isoformat()}", not_endpoint=endpoint.id)]
        if await self._store.disable_endpoint(endpoint.id, reason, now, announce):
            log.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.id,
                                                             "reason": reason})


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]
