"""What outbound webhooks need from the world: storage, an HTTP sender and a signer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from resolvers.notifications.model import (
    AttemptOutcome,
    Delivery,
    DeliveryDetail,
    DeliveryPolicy,
    DeliveryQuery,
    DeliveryStatus,
    Endpoint,
    SendResult,
    WebhookEvent,
)
from resolvers.outbox.model import NewOutboxMessage


class WebhookStore(Protocol):
    """Each call is its own transaction; outbox rows passed in commit with the change."""

    async def add_endpoint(self, endpoint: Endpoint) -> None: ...
    async def get_endpoint(self, endpoint_id: str) -> Endpoint | None: ...
    async def list_endpoints(self, after: str | None, limit: int) -> list[Endpoint]: ...
    async def all_endpoints(self) -> list[Endpoint]: ...
    async def add_endpoint_once(self, endpoint: Endpoint) -> Endpoint:
        """Add it unless its id exists (several processes start at once); the stored one."""
        ...
    async def save_endpoint(self, endpoint: Endpoint) -> bool:
        """Replace the endpoint's mutable fields; False when it no longer exists."""
        ...
    async def delete_endpoint(self, endpoint_id: str) -> bool: ...
    async def disable_endpoint(self, endpoint_id: str, reason: str, at: datetime,
                               announce: Sequence[NewOutboxMessage]) -> bool:
        """Disable an enabled endpoint (compare-and-set) and enqueue ``announce`` with it."""
        ...

    async def record_fanout(self, event: WebhookEvent, deliveries: Sequence[Delivery],
                            messages: Sequence[NewOutboxMessage]) -> None:
        """Store the event and its deliveries once (a repeat changes nothing), enqueue."""
        ...
    async def delivery_context(self, delivery_id: str,
                               ) -> tuple[Delivery, Endpoint, WebhookEvent] | None: ...
    async def record_attempts(self, outcomes: Sequence[AttemptOutcome]) -> None:
        """Each attempt, its delivery's new status and its endpoint's failing_since (kept
        at the first failure), all in one transaction."""
        ...
    async def set_delivery_status(self, delivery_id: str, status: DeliveryStatus,
                                  at: datetime) -> None: ...
    async def list_deliveries(self, query: DeliveryQuery) -> list[Delivery]: ...
    async def deliveries_by_status(self, statuses: Sequence[DeliveryStatus],
                                   limit: int) -> list[Delivery]:
        """Every endpoint's deliveries in ``statuses``, the most recently changed first."""
        ...
    async def get_delivery(self, endpoint_id: str, delivery_id: str) -> DeliveryDetail | None: ...
    async def replayable_since(self, endpoint_id: str, since: datetime,
                               limit: int) -> list[Delivery]:
        """Deliveries created at or after ``since`` that did not succeed and are not queued."""
        ...
    async def requeue(self, delivery_ids: Sequence[str], messages: Sequence[NewOutboxMessage],
                      at: datetime) -> None:
        """Deliveries back to pending, with their new outbox messages, in one transaction."""
        ...


class WebhookSender(Protocol):
    async def send(self, url: str, body: bytes, headers: Mapping[str, str],
                   timeout_seconds: float) -> SendResult:
        """POST once through the outbound guard; a refusal or a network error is a result
        without a status code, never an exception."""
        ...


class WebhookSigner(Protocol):
    def signature(self, secrets: Sequence[str], message_id: str, at: datetime,
                  body: bytes) -> str:
        """The ``webhook-signature`` header: ``v1,<base64>`` per secret, space-separated."""
        ...

    def new_secret(self) -> str:
        """A fresh ``whsec_`` secret."""
        ...


class EndpointUrlGuard(Protocol):
    async def refusal(self, url: str) -> str | None:
        """Why the gateway may not deliver to ``url`` (not https and not allow-listed; an
        address the outbound policy refuses), or None when it may."""
        ...


class EventEnqueuer(Protocol):
    async def __call__(self, messages: Sequence[NewOutboxMessage]) -> None:
        """Commit outbox rows on their own (an event that changes nothing else)."""
        ...


@dataclass(frozen=True)
class NotificationAdapters:
    """Everything the notification use cases need from outside, built by the adapters."""

    store: WebhookStore
    sender: WebhookSender
    signer: WebhookSigner
    guard: EndpointUrlGuard
    enqueue: EventEnqueuer
    policy: DeliveryPolicy
