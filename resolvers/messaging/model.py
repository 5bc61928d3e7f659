"""What callers of patient messaging hand over, and what replies look like.

Other capabilities (appointments, refills, lab results, critical alerts) ask for a message
through :class:`resolvers.messaging.ports.MessageScheduler` with a :class:`MessageRequest`;
messaging owns everything after that: the phone (from the patient's record when only a
patient is named), E.164 normalisation, consent and opt-out, the 24-hour window, the
template's placeholders, throughput, retries and statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Purpose(StrEnum):
    CUSTOM = "custom"  # POST /api/notifications
    APPOINTMENT_REMINDER = "appointment_reminder"
    APPOINTMENT_CONFIRMATION = "appointment_confirmation"
    LAB_RESULT_READY = "lab_result_ready"  # to the patient; never carries values
    REFILL_REMINDER = "refill_reminder"
    LAB_ALERT = "lab_alert"  # to a clinician; never carries values


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
