from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class OutboxMessage:
    """A delivery to be made to ``destination``; ``idempotency_key`` goes with every attempt."""

    id: str
    destination: str
    payload: dict[str, Any]
    idempotency_key: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    claim_token: str | None = None


@dataclass(frozen=True)
class NewOutboxMessage:
    destination: str
    payload: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class OutboxQuery:
    status: OutboxStatus | None = None
    destination: str | None = None
    after: str | None = None
    limit: int = 50
