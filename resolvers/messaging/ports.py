"""The ports other capabilities use to message patients and clinicians."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from resolvers.messaging.model import (
    Consent,
    ConsentEvent,
    ConsentState,
    MessageQuery,
    MessageRequest,
    MessageStatus,
    MessagingConfig,
    QuickReply,
    ScheduledMessage,
    SendResult,
    StatusUpdate,
    StoredMessage,
    Template,
)
from resolvers.outbox.model import NewOutboxMessage
from resolvers.webhooks.model import InboundEvent


class MessageScheduler(Protocol):
    async def schedule(self, requests: Sequence[MessageRequest]) -> list[ScheduledMessage]:
        """Store the messages (committed before return) for sending at ``send_at``.

        Idempotent per key: a key already stored is answered as it stands. A request that
        cannot be sent (no phone, no consent, opted out) is stored as ``suppressed`` with the
        reason, not raised, so that callers scheduling in bulk see every outcome.
        """
        ...

    async def cancel(self, key_prefix: str) -> int:
        """Cancel the not-yet-sent messages whose key starts with ``key_prefix``; how many."""
        ...


class QuickReplyHandler(Protocol):
    async def on_quick_reply(self, reply: QuickReply) -> None:
        """Called once per inbound button reply whose payload starts with the prefix the
        handler is registered for (``appointment:``); raise to have the inbox retry it."""
        ...


# ---------------------------------------------------------------- messaging's own ports


class PatientContacts(Protocol):
    async def contact(self, patient_id: str) -> tuple[str | None, str | None] | None:
        """(phone as recorded, ISO country from the patient's address) or None when the
        patient does not exist."""
        ...


class GraphApi(Protocol):
    """The WhatsApp Cloud API as messaging needs it (adapters/whatsapp/client.py)."""

    async def send(self, message: StoredMessage) -> SendResult:
        """One POST .../messages for the message (template or text) to ``message.phone``,
        with ``message.id`` as biz_opaque_callback_data. Never raises for Graph errors."""
        ...

    async def templates(self) -> list[Template]:
        """Every template of the business account, with its approval status."""
        ...


class TemplateStore(Protocol):
    async def upsert_templates(self, templates: Sequence[Template]) -> None: ...
    async def get_template(self, name: str, language: str) -> Template | None: ...
    async def list_templates(self) -> list[Template]: ...


class ConsentStore(Protocol):
    async def consent(self, phone: str, patient_id: str) -> Consent | None:
        """The (phone, patient)'s consent, else the phone's own (patient_id ""), else None."""
        ...

    async def set_consent(self, phone: str, patient_id: str, state: ConsentState, *,
                          source: str, actor: str, at: datetime,
                          events: Sequence[NewOutboxMessage] = ()) -> None:
        """Record it with its history; patient_id "" (the phone's own word) applies to every
        patient on that phone."""
        ...

    async def consent_history(self, phone: str) -> list[ConsentEvent]: ...
    async def consent_patients(self, phone: str) -> list[str]:
        """The patients with a consent row on ``phone``."""
        ...
    async def touch_window(self, phone: str, at: datetime) -> None: ...
    async def window_opened(self, phone: str) -> datetime | None: ...


class MessageStore(Protocol):
    async def insert(self, messages: Sequence[StoredMessage],
                     events: Sequence[NewOutboxMessage] = ()) -> list[StoredMessage]:
        """Store the messages whose key is new, in one transaction; answer every message as
        stored (the first one for a key already there)."""
        ...

    async def get(self, message_id: str) -> StoredMessage | None: ...
    async def by_wamid(self, wamid: str) -> StoredMessage | None: ...
    async def search(self, query: MessageQuery) -> list[StoredMessage]: ...
    async def cancel(self, *, key_prefix: str | None = None, message_id: str | None = None,
                     at: datetime) -> int:
        """Cancel scheduled (not claimed) messages; how many."""
        ...

    async def claim_due(self, *, now: datetime, limit: int, lease_until: datetime,
                        claim_token: str) -> list[StoredMessage]: ...

    async def settle(self, message_id: str, claim_token: str, *, status: MessageStatus,
                     at: datetime, next_attempt_at: datetime | None = None,
                     attempts: int | None = None, wamid: str | None = None,
                     reason: str | None = None, error_code: int | None = None,
                     events: Sequence[NewOutboxMessage] = ()) -> bool:
        """Only the holder of the claim settles the row (compare-and-set on the token)."""
        ...

    async def apply_status(
        self, status: StatusUpdate,
        announce: Callable[[StoredMessage], Sequence[NewOutboxMessage]] | None = None,
    ) -> StoredMessage | None:
        """Move the message forward (never backwards), with the events ``announce`` makes
        of the result in the same transaction; None when the wamid is unknown."""
        ...


class MessagingStore(TemplateStore, ConsentStore, MessageStore, Protocol):
    pass


class WhatsAppWebhookCheck(Protocol):
    """Meta's webhook authentication (adapters/whatsapp/webhook.py)."""

    def handshake(self, params: Mapping[str, str]) -> str | None:
        """The hub.challenge to echo, or None when hub.mode/hub.verify_token do not match."""
        ...

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        """X-Hub-Signature-256 over the raw body, then one inbox event per item; raises
        SignatureRejected or MalformedDelivery."""
        ...


@dataclass(frozen=True)
class MessagingAdapters:
    """What adapters/whatsapp/instances.py builds from settings for build_messaging."""

    store: MessagingStore
    contacts: PatientContacts
    graph: GraphApi | None  # None: WhatsApp is not configured (messages wait, scheduled)
    webhook: WhatsAppWebhookCheck | None  # None: not configured (the routes answer 404)
    config: MessagingConfig
