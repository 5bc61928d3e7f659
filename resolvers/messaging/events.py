"""The catalogue events messaging announces: ids, purposes and statuses only (never a phone
number, a name or a message's text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from resolvers.messaging.model import ConsentState, MessageStatus, StoredMessage
from resolvers.notifications.events import webhook_event
from resolvers.outbox.model import NewOutboxMessage


def message_events(message: StoredMessage, at: datetime) -> list[NewOutboxMessage]:
    """notification.sent when the Graph API accepted it, notification.failed when it failed
    for good; keyed so a change announced twice is one event."""
    data = {"message_id": message.id, "key": message.key, "purpose": message.purpose.value,
            "status": message.status.value, "patient_id": message.patient_id}
    if message.status is MessageStatus.SENT:
        return [webhook_event("notification.sent", data, at, key=f"whatsapp:{message.id}")]
    if message.status is MessageStatus.FAILED:
        return [webhook_event("notification.failed", {**data, "error_code": message.error_code},
                              at, key=f"whatsapp:{message.id}")]
    return []


def consent_event(patient_ids: Sequence[str], state: ConsentState, source: str,
                  at: datetime) -> NewOutboxMessage:
    return webhook_event("notification.opted_out", {
        "patient_ids": sorted(set(patient_ids)), "state": state.value, "source": source}, at)
