"""Default event handlers: Stripe (routed by event type), LiveKit, Resend suppressions, leads.

Each handler is idempotent: the outbox delivers at least once. Exception messages and log
lines name events and types, never an e-mail address, phone number or payload content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from resolvers.webhooks.model import (
    EventHandler,
    IgnoredEvent,
    Lead,
    PermanentEventError,
    WebhookEvent,
)

log = logging.getLogger("cari.webhooks")


class EventTypeRouter:
    """A composite handler: one handler per event type (exact, or a ``prefix.*`` pattern).

    Types with no handler are ignored, so an operator sees in the inbox which events the
    gateway received but did not act on. ``with_handlers`` returns an extended copy.
    """

    def __init__(self, provider: str, routes: Mapping[str, EventHandler] | None = None) -> None:
        self._provider = provider
        self._routes = dict(routes or {})

    def with_handlers(self, routes: Mapping[str, EventHandler]) -> EventTypeRouter:
        return EventTypeRouter(self._provider, {**self._routes, **routes})

    def _find(self, event_type: str) -> EventHandler | None:
        if event_type in self._routes:
            return self._routes[event_type]
        parts = event_type.split(".")
        for n in range(len(parts) - 1, 0, -1):
            found = self._routes.get(".".join(parts[:n]) + ".*")
            if found is not None:
                return found
        return None

    async def __call__(self, event: WebhookEvent) -> None:
        handler = self._find(event.event_type)
        if handler is None:
            raise IgnoredEvent(f"no {self._provider} handler for {event.event_type}")
        await handler(event)


def stripe_events(routes: Mapping[str, EventHandler] | None = None) -> EventTypeRouter:
    """Stripe events by type. Payments add e.g. ``payment_intent.*``, ``charge.refunded``,
    ``checkout.session.*``, ``invoice.*`` and ``customer.subscription.*`` here."""
    return EventTypeRouter("stripe", routes)


async def livekit_event(event: WebhookEvent) -> None:
    """Room, participant, track and egress events are kept in the inbox; nothing else yet."""
    room = event.payload.get("room")
    room_sid = room.get("sid") if isinstance(room, Mapping) else None
    log.info("livekit event", extra={"event_type": event.event_type, "room_sid": room_sid,
                                     "webhook_event_id": event.id})


# ---------------------------------------------------------------- Resend: suppression list


class SuppressionList(Protocol):
    async def suppress(self, addresses: list[str], *, reason: str, webhook_event_id: str) -> None:
        """Record the addresses (idempotent: an address already suppressed stays so)."""
        ...

    async def is_suppressed(self, address: str) -> bool: ...


def _recipients(data: Mapping[str, Any]) -> list[str]:
    to = data.get("to")
    found = to if isinstance(to, list) else [to] if isinstance(to, str) else []
    return sorted({a.strip().lower() for a in found if isinstance(a, str) and "@" in a})


class ResendSuppressions:
    """Suppress future sends after a permanent bounce or a complaint."""

    def __init__(self, suppressions: SuppressionList) -> None:
        self._suppressions = suppressions

    async def __call__(self, event: WebhookEvent) -> None:
        data = event.payload.get("data")
        if not isinstance(data, Mapping):
            raise PermanentEventError(f"resend {event.event_type} without a data object")
        if event.event_type == "email.complained":
            reason = "complained"
        elif event.event_type == "email.bounced":
            bounce = data.get("bounce")
            kind = bounce.get("type") if isinstance(bounce, Mapping) else None
            if kind != "Permanent":
                raise IgnoredEvent(f"bounce type {str(kind)[:20]!r} is not permanent")
            reason = "bounced"
        else:
            raise IgnoredEvent(f"no resend handler for {event.event_type}")
        addresses = _recipients(data)
        if not addresses:
            raise PermanentEventError(f"resend {event.event_type} names no recipient")
        await self._suppressions.suppress(addresses, reason=reason, webhook_event_id=event.id)
        log.info("email addresses suppressed", extra={"count": len(addresses), "reason": reason,
                                                      "webhook_event_id": event.id})


# ---------------------------------------------------------------- inbound leads


class LeadStore(Protocol):
    async def add(self, lead: Lead) -> None:
        """Store the lead once per webhook event (a repeat is ignored)."""
        ...


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and value else None


class LeadCapture:
    """Store a lead the route already validated (see rest_compat/webhooks.py)."""

    def __init__(self, leads: LeadStore) -> None:
        self._leads = leads

    async def __call__(self, event: WebhookEvent) -> None:
        lead = event.payload.get("lead")
        source = event.payload.get("source")
        if not isinstance(lead, Mapping) or not isinstance(source, str):
            raise PermanentEventError("lead event without lead and source")
        await self._leads.add(Lead(
            webhook_event_id=event.id, source=source, name=_text(lead, "name"),
            email=_text(lead, "email"), phone=_text(lead, "phone"),
            organisation=_text(lead, "organisation"), country=_text(lead, "country"),
            message=_text(lead, "message"), consent=lead.get("consent") is True))
