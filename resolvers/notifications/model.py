"""What an outbound webhook subscription is made of: endpoints, events, deliveries, attempts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from resolvers.outbox.model import NewOutboxMessage

WEBHOOK_FANOUT = "webhook_fanout"  # outbox destination: the events one write announces
WEBHOOK_DELIVERY = "webhook_delivery"  # outbox destination: one row per (event, endpoint)
FANOUT_BATCH = "events"  # a fan-out row's payload key when it carries several events
WILDCARD = "*"
Subscriptions = Sequence[tuple[Sequence[str], Sequence[str]]]  # endpoints' (types, resource types)


def matches(pattern: str, event_type: str) -> bool:
    if pattern == WILDCARD:
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def subscribed(patterns: tuple[str, ...], resource_types: tuple[str, ...], event_type: str,
               resource_type: str | None) -> bool:
    """Does an endpoint with these filters want this event? The resource-type filter applies
    to events that have a resource type (fhir.resource.*) and to nothing else."""
    if not any(matches(p, event_type) for p in patterns):
        return False
    return not resource_types or resource_type is None or resource_type in resource_types


def wanted_events(messages: Sequence[NewOutboxMessage],
                  subscriptions: Subscriptions) -> list[NewOutboxMessage]:
    """The messages to write: every one but the webhook events no endpoint subscribes to.

    Read in the writing transaction, so it is exact, not a cache: an endpoint committed
    before the write gets its events, and a gateway with no endpoints (or none that want
    ``fhir.resource.*``) writes nothing for a lab result's Observations. Disabled endpoints
    count: their fan-out records what they missed, for a replay. An event for one endpoint
    (``webhook.test``) is always written.
    """
    def wanted(message: NewOutboxMessage) -> bool:
        if message.destination != WEBHOOK_FANOUT:
            return True
        payload = message.payload
        if payload.get("only_endpoint"):
            return True
        return any(subscribed(tuple(types), tuple(resource_types), str(payload["type"]),
                              payload.get("resource_type"))
                   for types, resource_types in subscriptions)
    return [m for m in messages if wanted(m)]


def batch_fanout(messages: Sequence[NewOutboxMessage]) -> list[NewOutboxMessage]:
    """The events of one enqueue call as ONE fan-out row (other destinations unchanged).

    A lab message announces its result and each Observation and report it stored
    (``fhir.resource.created``): one row per event made an ingest of ten results write and
    then work through twelve outbox rows, and cut ingest throughput by a third. Each event
    keeps its own id (derived from its change's key), so a change announced twice is still
    stored and delivered once (the events and deliveries tables are keyed by it).
    """
    events = [m for m in messages if m.destination == WEBHOOK_FANOUT]
    if len(events) < 2:
        return list(messages)
    key = hashlib.sha256("\n".join(m.idempotency_key for m in events).encode()).hexdigest()
    batch = NewOutboxMessage(WEBHOOK_FANOUT, {FANOUT_BATCH: [m.payload for m in events]},
                             f"batch:{key[:40]}")
    return [*(m for m in messages if m.destination != WEBHOOK_FANOUT), batch]


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued, or failed and waiting for its next attempt
    SUCCEEDED = "succeeded"
    EXHAUSTED = "exhausted"  # every attempt of the schedule failed
    FAILED = "failed"  # given up at once (410 Gone, the endpoint disabled meanwhile)
    SKIPPED = "skipped"  # the endpoint was disabled when the event happened; replayable


@dataclass(frozen=True)
class EndpointSecret:
    """An HMAC key in Standard Webhooks form (``whsec_`` + base64), usable until ``expires_at``."""

    value: str
    expires_at: datetime | None = None  # None: the current secret


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: tuple[str, ...]
    resource_types: tuple[str, ...]  # for fhir.resource.*: empty means every type
    description: str
    enabled: bool
    secret: str
    previous_secret: EndpointSecret | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    disabled_reason: str | None = None
    failing_since: datetime | None = None  # first failed attempt since the last success
    managed_by_settings: bool = False  # CARI_EVENT_WEBHOOK_URL's endpoint

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one during its rotation grace period."""
        secrets = [self.secret]
        previous = self.previous_secret
        if previous is not None and previous.expires_at is not None and previous.expires_at > now:
            secrets.append(previous.value)
        return secrets


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    resource_types: tuple[str, ...] | None = None
    description: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """One occurrence of a catalogue event, stored once and delivered to each endpoint."""

    id: str  # the webhook-id header: the same for every attempt and replay
    type: str
    version: int
    occurred_at: datetime
    data: dict[str, Any]
    resource_type: str | None = None  # fhir.resource.*: what endpoints filter on
    only_endpoint: str | None = None  # webhook.test: to this endpoint alone
    not_endpoint: str | None = None  # webhook.endpoint.disabled: not to the one disabled

    def body(self) -> dict[str, Any]:
        """The JSON body sent (Standard Webhooks' recommended ``type``/``timestamp``/``data``)."""
        return {"id": self.id, "type": self.type, "version": self.version,
                "timestamp": self.occurred_at.isoformat().replace("+00:00", "Z"),
                "data": self.data}


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    updated_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Attempt:
    id: str
    delivery_id: str
    endpoint_id: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: float
    response_excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class AttemptOutcome:
    """An attempt to record, the delivery's new status and the endpoint's failing_since
    (None: healthy again)."""

    attempt: Attempt
    status: DeliveryStatus
    failing_since: datetime | None


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: Delivery
    attempts: list[Attempt] = field(default_factory=list)


@dataclass(frozen=True)
class CreatedEndpoint:
    """An endpoint with its secret: answered once, on create."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class RotatedSecret:
    endpoint: Endpoint
    secret: str
    previous_expires_at: datetime


@dataclass(frozen=True)
class DeliveryQuery:
    endpoint_id: str
    status: DeliveryStatus | None = None
    event_type: str | None = None
    after: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class SendResult:
    """What one HTTP attempt came back with (no status code: it never got an answer)."""

    status_code: int | None
    duration_ms: float
    response_excerpt: str | None = None
    error: str | None = None


# The delivery policy (explained in policy.py); here so settings adapters may name it.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 50400,
                                       50400)


@dataclass(frozen=True)
class DeliveryPolicy:
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE  # seconds before attempts 2, 3, ...
    disable_after: timedelta = timedelta(days=5)
    rotation_grace: timedelta = timedelta(hours=24)
    timeout_seconds: float = 15.0
    response_excerpt_chars: int = 1000

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return self.schedule[min(max(attempts, 1), len(self.schedule)) - 1]
