"""What the webhook use cases need from storage and from signature checking."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from resolvers.audit.ports import AuditLog
from resolvers.outbox.ports import OutboxWriter
from resolvers.transaction import Transaction
from resolvers.webhooks.model import InboundEvent, WebhookEvent, WebhookEventQuery


class WebhookEventRepository(Protocol):
    """Inside a unit of work: event rows commit together with their outbox job."""

    async def add(self, event: WebhookEvent) -> bool:
        """Insert unless (provider, event_id) exists; False when it does (nothing written)."""
        ...
    async def add_many(self, events: Sequence[WebhookEvent]) -> set[str]:
        """Store the events that are new (one statement); answer their ids."""
        ...
    async def get_by_keys(self, keys: Sequence[tuple[str, str]],
                          ) -> dict[tuple[str, str], WebhookEvent]: ...
    async def get(self, event_id: str) -> WebhookEvent | None: ...
    async def get_by_key(self, provider: str, provider_event_id: str) -> WebhookEvent | None: ...
    async def search(self, query: WebhookEventQuery) -> list[WebhookEvent]: ...
    async def set_status(self, event_id: str, *, status: str, attempts: int,
                         last_error: str | None, processed_at: datetime | None) -> None: ...


class WebhookVerifier(Protocol):
    """Checks a delivery by the provider's own scheme over the exact raw body.

    Raises ``SignatureRejected`` (forged, stale or missing signature) or ``MalformedDelivery``
    (a header or body that cannot be parsed); returns the event otherwise.
    """

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> InboundEvent: ...


class RejectionCounter(Protocol):
    def __call__(self, provider: str, reason: str) -> None: ...


class WebhooksUnitOfWork(Transaction, Protocol):
    @property
    def webhooks(self) -> WebhookEventRepository: ...
    @property
    def outbox(self) -> OutboxWriter: ...
    @property
    def audit(self) -> AuditLog: ...


WebhooksUnitOfWorkFactory = Callable[[], WebhooksUnitOfWork]
