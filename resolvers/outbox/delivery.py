"""The port a destination implements to receive outbox deliveries."""

from __future__ import annotations

from typing import Protocol

from resolvers.outbox.model import OutboxMessage


class PermanentDeliveryError(Exception):
    """The destination refused the message for good (e.g. 4xx): retrying cannot help."""


class DeliveryHandler(Protocol):
    async def deliver(self, message: OutboxMessage) -> None:
        """Deliver once, passing ``message.idempotency_key`` to the destination.

        Return normally on success; raise :class:`PermanentDeliveryError` to dead-letter at
        once; any other exception is a transient failure and is retried with backoff.
        """
        ...
