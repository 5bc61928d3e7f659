"""What the message log lists and opens, and the store it reads (a view over intake's rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from resolvers.errors import InvalidInput
from resolvers.labs.records import LabMessageConflict, LabResult

HL7_CHANNELS = ("hl7-http", "hl7-mllp", "hl7-graphql")
REFUSED_CHANNEL = "hl7-refused"  # a reused control id with different content (never stored)
# Messages refused before storage (unparseable HL7, a webhook whose signature failed) keep
# the channel they came by, with status REFUSED_STATUS (see RefusedMessage).
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
class RefusedMessage:
    """A message intake refused before storing anything, as the message log keeps it: the
    body bounded (``body_truncated`` says when cut), the whole body's size and SHA-256."""

    id: str
    received_at: datetime
    channel: str  # hl7-http | hl7-mllp | hl7-graphql | webhook:<provider>
    sender: str | None  # MSH-4 (else MSH-3) when a tolerant split could read it
    control_id: str | None  # MSH-10, likewise
    message_type: str | None  # MSH-9 as sent
    reason: str  # the error text the sender got
    answer: str  # what was answered: HTTP 400, HTTP 401, AE, AR, a GraphQL error type
    body: str
    body_truncated: bool
    size: int
    sha256: str

    def entry(self) -> LoggedMessage:
        summary = self.message_type or ("webhook" if self.channel.startswith(WEBHOOK_PREFIX)
                                        else "HL7?")
        return LoggedMessage(self.id, self.channel, REFUSED_STATUS, self.sender or "",
                             self.control_id or "", self.received_at, summary, self.reason)


@dataclass(frozen=True)
class StoredMessage:
    """One message as stored: exactly one of ``lab_result``, ``conflict``, ``webhook`` or
    ``refused``."""

    entry: LoggedMessage
    raw: str
    lab_result: LabResult | None = None
    conflict: LabMessageConflict | None = None
    webhook: WebhookEventDetail | None = None
    refused: RefusedMessage | None = None
    review_candidates: tuple[str, ...] = field(default=())  # patients of open review tasks


class MessageLogStore(Protocol):
    async def page(self, query: MessageQuery) -> list[LoggedMessage]:
        """Newest first, strictly after ``query.after``; at most ``query.limit`` + 1 lines
        (the extra one says another page exists)."""
        ...

    async def find(self, message_id: str) -> StoredMessage | None: ...


class RefusedMessageStore(Protocol):
    async def add(self, message: RefusedMessage) -> None: ...

    async def prune(self, *, before: datetime, keep: int) -> int:
        """Delete refusals received before ``before`` and all but the newest ``keep``;
        returns how many went."""
        ...


class RefusalRecorder(Protocol):
    """What an intake boundary (the MLLP listener, a route) calls when it refuses an HL7
    message before storage (resolvers/operations/messages/refusals.py)."""

    async def hl7(self, channel: str, raw: bytes | str, *, reason: str, answer: str
                  ) -> None: ...
