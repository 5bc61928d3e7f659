from __future__ import annotations

from collections.abc import Iterable
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
    failing: bool = False  # only rows whose last attempt failed (with status pending: retrying)


@dataclass(frozen=True)
class DestinationDepth:
    """One destination's undelivered rows by state, its deliveries in the last hour and its
    last delivery (the console's health and failures pages). ``failing``: pending rows whose
    last attempt failed."""

    destination: str
    pending: int = 0
    failing: int = 0
    in_flight: int = 0
    dead: int = 0
    delivered_last_hour: int = 0
    last_delivered_at: datetime | None = None


def depths_from_groups(
        undelivered: Iterable[tuple[str, str, bool, int]],
        delivered: Iterable[tuple[str, int, datetime | None]]) -> list[DestinationDepth]:
    """(destination, status, failing, count) groups of undelivered rows and (destination,
    delivered in the last hour, last delivered) -> a row per destination, by name."""
    found: dict[str, dict[str, Any]] = {}
    for destination, status, failing, count in undelivered:
        entry = found.setdefault(destination, {"destination": destination})
        name = "failing" if failing else status
        entry[name] = entry.get(name, 0) + count
    for destination, recent, last in delivered:
        entry = found.setdefault(destination, {"destination": destination})
        entry["delivered_last_hour"] = recent
        entry["last_delivered_at"] = last
    return [DestinationDepth(**found[name]) for name in sorted(found)]


@dataclass(frozen=True)
class PausedDestination:
    """An operator's pause of one destination: the worker claims none of its rows until it
    is resumed. ``paused_by`` is the operator's subject."""

    destination: str
    paused_at: datetime
    paused_by: str
    reason: str | None = None
