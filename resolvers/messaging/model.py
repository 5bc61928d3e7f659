"""What callers of patient messaging hand over, and what replies look like.

Other capabilities (appointments, refills, lab results, critical alerts) ask for a message
through :class:`resolvers.messaging.ports.MessageScheduler` with a :class:`MessageRequest`;
messaging owns everything after that: the phone (from the patient's record when only a
patient is named), E.164 normalisation, consent and opt-out, the 24-hour window, the
template's placeholders, throughput, retries and statuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def placeholders(text: str | None) -> int:
    """How many distinct {{n}} placeholders a template text has."""
    return len(set(PLACEHOLDER.findall(text or "")))


class Purpose(StrEnum):
    CUSTOM = "custom"  # POST /api/notifications
    APPOINTMENT_REMINDER = "appointment_reminder"
    APPOINTMENT_CONFIRMATION = "appointment_confirmation"
    LAB_RESULT_READY = "lab_result_ready"  # to the patient; never carries values
    REFILL_REMINDER = "refill_reminder"
    LAB_ALERT = "lab_alert"  # to a clinician; never carries values
    # Messaging's own: the free-form reply confirming an opt-out or opt-in keyword.
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"


@dataclass(frozen=True)
class TemplateCall:
    """A registered template and its parameters, checked against its placeholders."""

    name: str
    language: str  # the template's language code as registered (en, en_US, fr, sw, ...)
    body_params: tuple[str, ...] = ()
    header_params: tuple[str, ...] = ()
    # Payloads of the template's quick-reply buttons, by button index; they come back in
    # QuickReply.payload when the patient taps one.
    button_payloads: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageRequest:
    # One message per key, ever: scheduling a key again while it exists changes nothing, so
    # callers can derive keys from what they announce (``appointment:{id}:{start}:24h``).
    key: str
    purpose: Purpose
    template: TemplateCall
    send_at: datetime  # aware; in the past or now means as soon as possible
    patient_id: str | None = None  # the phone comes from the patient's record when not given
    phone: str | None = None  # any usual form; normalised to E.164
    country: str | None = None  # ISO 3166-1 alpha-2 hint for numbers without a country code
    # Patient messages need the patient's opt-in on that phone; a clinician's alert is sent
    # to the number the operator configured for them.
    requires_consent: bool = True


@dataclass(frozen=True)
class ScheduledMessage:
    """A message as stored: its state after scheduling, sending and status webhooks."""

    id: str
    key: str
    purpose: Purpose
    status: str  # scheduled, sending, sent, delivered, read, failed, cancelled, suppressed
    send_at: datetime
    reason: str | None = None  # why it failed or was suppressed (no consent, opted out, ...)


@dataclass(frozen=True)
class QuickReply:
    """A patient tapped a quick-reply button of one of our templates."""

    inbound_message_id: str  # their wamid (the dedupe key)
    phone: str  # E.164
    payload: str  # the button payload we set in TemplateCall.button_payloads
    text: str
    replied_to_key: str | None  # the MessageRequest.key of the message replied to, if known
    received_at: datetime


# ---------------------------------------------------------------- as stored (messaging's own)


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for send_at (or for a retry)
    SENDING = "sending"  # claimed by a sender; its lease bounds how long
    SENT = "sent"  # the Graph API accepted it (wamid stored); statuses follow by webhook
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # for good, with the reason (and the Graph error code when one came)
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"  # never sendable: no phone, no consent, opted out


# Statuses a webhook may move a sent message through; never backwards.
DELIVERY_RANK = {MessageStatus.SENT: 1, MessageStatus.DELIVERED: 2, MessageStatus.READ: 3}
PENDING_STATUSES = frozenset({MessageStatus.SCHEDULED, MessageStatus.SENDING})


class MessageKind(StrEnum):
    TEMPLATE = "template"
    TEXT = "text"  # free-form: only inside the 24-hour customer service window


class TemplateStatus(StrEnum):
    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"


@dataclass(frozen=True)
class Template:
    """A message template of the WhatsApp Business Account, per language."""

    name: str
    language: str
    status: TemplateStatus
    category: str
    body: str
    header: str | None = None
    buttons: tuple[str, ...] = ()  # quick-reply button texts, by index
    synced_at: datetime | None = None
    updated_at: datetime | None = None


class ConsentState(StrEnum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Consent:
    phone: str  # E.164
    patient_id: str  # "" for the phone's own consent (keywords from the phone)
    state: ConsentState
    source: str  # api, keyword
    updated_at: datetime


@dataclass(frozen=True)
class ConsentEvent:
    phone: str
    patient_id: str
    state: ConsentState
    source: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class StoredMessage:
    """A message row: what to send, to whom, and where it stands."""

    id: str
    key: str
    purpose: Purpose
    kind: MessageKind
    patient_id: str | None
    phone: str | None
    template: TemplateCall | None
    text: str | None
    requires_consent: bool
    status: MessageStatus
    reason: str | None
    error_code: int | None
    send_at: datetime
    next_attempt_at: datetime
    attempts: int
    wamid: str | None
    status_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    def scheduled(self) -> ScheduledMessage:
        return ScheduledMessage(id=self.id, key=self.key, purpose=self.purpose,
                                status=self.status.value, send_at=self.send_at,
                                reason=self.reason)


@dataclass(frozen=True)
class MessageQuery:
    patient_id: str | None = None
    status: MessageStatus | None = None
    purpose: Purpose | None = None
    after: str | None = None  # newest first: ids below this one
    limit: int = 50


@dataclass(frozen=True)
class GraphFailure:
    """A send the Graph API did not accept, in one shape whatever went wrong."""

    code: int | None  # Graph's error code (131026, 130429, 190, ...); None: no answer
    title: str
    retryable: bool
    retry_after: float | None = None  # seconds, when the answer said so
    token_expired: bool = False
    answered: bool = True  # False: no response arrived (it may or may not have been sent)


@dataclass(frozen=True)
class SendResult:
    wamid: str | None = None
    failure: GraphFailure | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A status webhook item."""

    wamid: str
    status: MessageStatus  # sent, delivered, read or failed
    at: datetime
    error_code: int | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A message a user sent us (text, template button tap or interactive reply)."""

    wamid: str
    phone: str  # E.164
    kind: str  # text, button, interactive, or another Meta type (image, ...)
    at: datetime
    text: str = ""
    reply_payload: str | None = None  # button.payload or interactive.button_reply.id
    context_wamid: str | None = None  # the message replied to


# ---------------------------------------------------------------- operator settings

DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "OPT OUT", "OPTOUT", "ACHA", "SITISHA",
                   "ARRÊT", "ARRETER", "DÉSABONNER")
DEFAULT_OPT_IN = ("START", "UNSTOP", "SUBSCRIBE", "ANZA", "DÉBUT", "DEMARRER", "REPRENDRE")
# Sent (free-form, inside the window the keyword just opened) to confirm a keyword.
OPT_OUT_CONFIRMATION = ("You will no longer receive WhatsApp messages from us. Reply START "
                        "to receive them again.")
OPT_IN_CONFIRMATION = "You will receive WhatsApp messages from us again. Reply STOP to stop."


@dataclass(frozen=True)
class MessagingConfig:
    configured: bool = False  # token, phone number id and app secret present
    default_country: str | None = None  # for national numbers without a patient country
    messages_per_second: float = 80.0  # the number's throughput (per process: see README)
    pair_interval_seconds: float = 6.0  # spacing between two messages to one recipient
    opt_out_keywords: tuple[str, ...] = DEFAULT_OPT_OUT
    opt_in_keywords: tuple[str, ...] = DEFAULT_OPT_IN
    opt_out_confirmation: str = OPT_OUT_CONFIRMATION
    opt_in_confirmation: str = OPT_IN_CONFIRMATION
    max_attempts: int = 8  # retryable failures (5xx, rate limits, no answer) before failing
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    token_retry_seconds: float = 60.0  # an expired token: the message waits, not fails
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    batch_size: int = 50
    template_sync_seconds: float = 0.0  # 0: templates are synced on request only

    def backoff(self, attempts: int) -> float:
        return float(min(self.backoff_max_seconds,
                         self.backoff_base_seconds * 2 ** max(0, attempts - 1)))
