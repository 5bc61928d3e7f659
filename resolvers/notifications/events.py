"""How a source announces a catalogue event: ONE outbox row to ``webhook_fanout``, written in
the source's own transaction (so the event exists exactly when the change does). The fan-out
(fanout.py) later turns it into one delivery per subscribed endpoint, so subscribing more
endpoints never slows a write."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from resolvers.ids import new_id
from resolvers.notifications.model import WEBHOOK_FANOUT, WebhookEvent
from resolvers.outbox.model import NewOutboxMessage

EVENT_IDS = uuid.UUID("6f1c2a4e-8d3b-5e7f-9a10-000000000001")  # namespace of keyed event ids


def webhook_event(event_type: str, data: dict[str, Any], at: datetime, *,
                  key: str | None = None, resource_type: str | None = None,
                  only_endpoint: str | None = None,
                  not_endpoint: str | None = None) -> NewOutboxMessage:
    """The outbox row of one event. ``key`` names the change (``lab-alert:<id>``) so writing
    the same change twice makes one event (its id is derived from the key); absent, every
    call is a new event."""
    event_id = (f"evt_{uuid.uuid5(EVENT_IDS, f'{event_type}:{key}').hex}" if key
                else f"evt_{new_id().replace('-', '')}")
    event = WebhookEvent(event_id, event_type, 1, at, data, resource_type, only_endpoint,
                         not_endpoint)
    return NewOutboxMessage(WEBHOOK_FANOUT, event_payload(event),
                            f"{event_type}:{key}" if key else event_id)


def event_payload(event: WebhookEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "version": event.version,
            "occurred_at": event.occurred_at.isoformat(), "data": event.data,
            "resource_type": event.resource_type, "only_endpoint": event.only_endpoint,
            "not_endpoint": event.not_endpoint}


def event_from_payload(payload: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(
        id=str(payload["id"]), type=str(payload["type"]), version=int(payload["version"]),
        occurred_at=datetime.fromisoformat(str(payload["occurred_at"])),
        data=dict(payload["data"]), resource_type=payload.get("resource_type"),
        only_endpoint=payload.get("only_endpoint"), not_endpoint=payload.get("not_endpoint"))
