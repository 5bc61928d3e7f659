"""What the message log lists and opens, and the store it reads (a view over intake's rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from resolvers.errors import InvalidInput
from resolvers.labs.records import LabMessageConflict, LabResult

HL7_CHANNELS = ("hl7-http", "hl7-mllp", "hl7-graphql")
REFUSED_CHANNEL = "hl7-refused"  # a reused control id with different content (never stored)
WEBHOOK_PREFIX = "webhook:"
HL7_STATUSES = ("linked", "review", "unmatched")
REFUSED_STATUS = "refused"
WEBHOOK_STATUSES = ("received", "processed", "failed", "dead", "ignored")
MAX_PAGE = 200


@dataclass(frozen=True, order=True)
class MessageCursor:
    """Where a newest-first page ends: (received at, id), the log's sort key."""

    received_at: datetime
    id: str

    def encode(self) -> str:
        return f"{self.received_at.astimezone(UTC).isoformat()}|{self.id}"

    @classmethod
    def decode(cls, text: str) -> MessageCursor:
        at, sep, ident = text.partition("|")
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            when = None
        if not sep or not ident or when is None or when.tzinfo is None:
            raise InvalidInput("not a message log cursor", details={"after": text[:80]},
                               reason_code="messages.bad_cursor")
        return cls(when, ident)


@dataclass(frozen=True)
class MessageQuery:
    channel: str | None = None  # hl7 (every HL7 channel), hl7-mllp, webhook (every), webhook:stripe
    status: str | None = None
    sender: str | None = None  # HL7: sending facility (MSH-4, else MSH-3); webhooks: provider
    control_id: str | None = None  # HL7: MSH-10; webhooks: the provider's event id
    since: datetime | None = None
    until: datetime | None = None
    after: MessageCursor | None = None
    limit: int = 50


@dataclass(frozen=True)
class LoggedMessage:
    """One line of the log. No patient data: the list is safe to show to any operator."""

    id: str
    channel: str
    status: str
    sender: str
    control_id: str
    received_at: datetime
    summary: str  # what kind of message: the webhook's event type, HL7's ORU^R01
    error: str | None = None

    @property
    def cursor(self) -> MessageCursor:
        return MessageCursor(self.received_at, self.id)


@dataclass(frozen=True)
class WebhookEventDetail:
    event_type: str
    subject_id: str | None
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    processed_at: datetime | None


@dataclass(frozen=True)
class StoredMessage:
    """One message as stored: exactly one of ``lab_result``, ``conflict`` or ``webhook``."""

    entry: LoggedMessage
    raw: str
    lab_result: LabResult | None = None
    conflict: LabMessageConflict | None = None
    webhook: WebhookEventDetail | None = None
    review_candidates: tuple[str, ...] = field(default=())  # patients of open review tasks


class MessageLogStore(Protocol):
    async def page(self, query: MessageQuery) -> list[LoggedMessage]:
        """Newest first, strictly after ``query.after``; at most ``query.limit`` + 1 lines
        (the extra one says another page exists)."""
        ...

    async def find(self, message_id: str) -> StoredMessage | None: ...
