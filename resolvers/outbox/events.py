"""Domain events become outbox messages for every destination that subscribes to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from resolvers.outbox.model import NewOutboxMessage


class EventRouter:
    """Maps event types to subscribed destinations (configured at the composition root)."""

    def __init__(self, subscriptions: dict[str, Sequence[str]] | None = None) -> None:
        # destination -> event types ("*" for all)
        self._subscriptions = {k: tuple(v) for k, v in (subscriptions or {}).items()}

    def messages_for(
        self, event_type: str, resource_id: str, version: int, data: dict[str, Any], at: datetime
    ) -> list[NewOutboxMessage]:
        payload = {
            "type": event_type,
            "resource_id": resource_id,
            "version": version,
            "occurred_at": at.isoformat(),
            "data": data,
        }
        return [
            NewOutboxMessage(
                destination=destination,
                payload=payload,
                # One key per resource version: a replay of the same change is recognisable.
                idempotency_key=f"{event_type}:{resource_id}:{version}",
            )
            for destination, types in self._subscriptions.items()
            if "*" in types or event_type in types
        ]
