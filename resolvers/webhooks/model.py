"""The inbound webhook contract: what the routes hand over, what is stored, what handlers get."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

# The outbox destination whose handler (InboxDispatcher) processes stored events.
INBOX_DESTINATION = "inbox"


class EventStatus(StrEnum):
    RECEIVED = "received"  # stored, waiting for (or between) processing attempts
    PROCESSED = "processed"
    FAILED = "failed"  # the last attempt failed; it will be retried
    DEAD = "dead"  # no more attempts; an admin may replay it
    IGNORED = "ignored"  # nothing to do for this event


@dataclass(frozen=True)
class InboundEvent:
    """Handed to the intake after the route verified authenticity."""

    provider: str  # "stripe" | "livekit" | "resend" | "lead" | "mpesa" | "mtn_momo" | "orange_money"
    event_id: str  # the provider's event id (dedupe key together with provider)
    event_type: str
    payload: Mapping[str, Any]
    subject_id: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """An inbound event as stored."""

    id: str
    provider: str
    event_id: str
    event_type: str
    subject_id: str | None
    payload: Mapping[str, Any]
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class IntakeResult:
    event: WebhookEvent
    duplicate: bool


@dataclass(frozen=True)
class WebhookEventQuery:
    provider: str | None = None
    status: EventStatus | None = None
    after: str | None = None  # newest first: ids below this one
    limit: int = 50


class PermanentEventError(Exception):
    """Processing can never succeed: dead-letter at once."""


class IgnoredEvent(Exception):
    """Nothing to do for this event (unknown type): mark it ignored."""


class EventHandler(Protocol):
    async def __call__(self, event: WebhookEvent) -> None: ...


@dataclass(frozen=True)
class Lead:
    webhook_event_id: str
    source: str
    name: str | None
    email: str | None
    phone: str | None
    organisation: str | None
    country: str | None
    message: str | None
    consent: bool
