"""Scheduling: requests become stored messages (committed before the answer), one per key.

What can be decided now is decided now, and stored with the message: the phone (the
patient's record when only a patient is named; E.164 with the patient's country), consent and
opt-out, the template's placeholders. A message that can never be sent is stored as
``suppressed`` (no phone, no consent, opted out) or ``failed`` (a template problem) with the
reason, so bulk callers see every outcome. The sender checks consent and the template again
at send time: an opt-out after scheduling still stops the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from resolvers.errors import InvalidInput
from resolvers.ids import new_id
from resolvers.messaging.model import (
    ConsentState,
    MessageKind,
    MessageRequest,
    MessageStatus,
    MessagingConfig,
    Purpose,
    ScheduledMessage,
    StoredMessage,
)
from resolvers.messaging.ports import MessagingStore, PatientContacts
from resolvers.messaging.rules import WINDOW_SECONDS, normalise_phone, template_problem

log = logging.getLogger("cari.messaging")
MAX_KEY = 300
MAX_TEXT = 4096
# Confirmations of a keyword go to the phone that just sent it, whatever its consent.
CONFIRMATIONS = frozenset({Purpose.OPT_OUT_CONFIRMATION, Purpose.OPT_IN_CONFIRMATION})


class Scheduling:
    """The :class:`resolvers.messaging.ports.MessageScheduler` of the gateway."""

    def __init__(self, store: MessagingStore, contacts: PatientContacts,
                 config: MessagingConfig, now: Callable[[], datetime]) -> None:
        self._store = store
        self._contacts = contacts
        self._config = config
        self._now = now
        self.on_scheduled: Callable[[], None] | None = None  # wakes this process's sender

    # ------------------------------------------------------------------ the port

    async def schedule(self, requests: Sequence[MessageRequest], *,
                       created_by: str = "system") -> list[ScheduledMessage]:
        rows = [await self.prepare(r, created_by) for r in requests]
        stored = await self.store(rows)
        return [s.scheduled() for s in stored]

    async def cancel(self, key_prefix: str) -> int:
        if not key_prefix:
            raise InvalidInput("a key prefix is required", details={"field": "key_prefix"})
        return await self._store.cancel(key_prefix=key_prefix, at=self._now())

    # ------------------------------------------------------------------ building blocks

    async def store(self, rows: Sequence[StoredMessage]) -> list[StoredMessage]:
        stored = await self._store.insert(rows)
        if self.on_scheduled is not None and any(
                s.status is MessageStatus.SCHEDULED for s in stored):
            self.on_scheduled()
        return stored

    async def prepare(self, request: MessageRequest, created_by: str) -> StoredMessage:
        """The row of a template request, with its status decided as far as it can be."""
        _check_key(request.key)
        send_at = _aware(request.send_at)
        phone, reason = await self.recipient(request.patient_id, request.phone,
                                             request.country)
        status = MessageStatus.SCHEDULED
        if reason is None and phone is not None:
            reason = await self.unsendable(phone, request.patient_id, request.requires_consent,
                                           request.purpose)
        if reason is not None:
            status = MessageStatus.SUPPRESSED
        else:
            template = await self._store.get_template(request.template.name,
                                                      request.template.language)
            if (problem := template_problem(template, request.template)) is not None:
                status, reason = MessageStatus.FAILED, problem
        return self._row(request.key, request.purpose, MessageKind.TEMPLATE, request.patient_id,
                         phone, status, reason, send_at, created_by,
                         requires_consent=request.requires_consent, template=request)

    def text_row(self, *, key: str, purpose: Purpose, phone: str, patient_id: str | None,
                 text: str, created_by: str, send_at: datetime | None = None,
                 requires_consent: bool = True) -> StoredMessage:
        _check_key(key)
        if not text.strip() or len(text) > MAX_TEXT:
            raise InvalidInput(f"text must have 1 to {MAX_TEXT} characters",
                               details={"field": "text"})
        row = self._row(key, purpose, MessageKind.TEXT, patient_id, phone,
                        MessageStatus.SCHEDULED, None, _aware(send_at or self._now()),
                        created_by, requires_consent=requires_consent, template=None)
        return replace(row, text=text)

    def _row(self, key: str, purpose: Purpose, kind: MessageKind, patient_id: str | None,
             phone: str | None, status: MessageStatus, reason: str | None, send_at: datetime,
             created_by: str, *, requires_consent: bool,
             template: MessageRequest | None) -> StoredMessage:
        now = self._now()
        return StoredMessage(
            id=new_id(), key=key, purpose=purpose, kind=kind, patient_id=patient_id,
            phone=phone, template=template.template if template else None, text=None,
            requires_consent=requires_consent, status=status, reason=reason,
            error_code=None, send_at=send_at, next_attempt_at=max(send_at, now), attempts=0,
            wamid=None, status_at=None, created_by=created_by, created_at=now,
            updated_at=now)

    async def recipient(self, patient_id: str | None, phone: str | None,
                        country: str | None) -> tuple[str | None, str | None]:
        """(E.164 phone, None) or (None, why there is none). A phone given wins over the
        patient's; the patient's country reads national numbers."""
        patient_country = None
        if patient_id is not None:
            contact = await self._contacts.contact(patient_id)
            if contact is None:
                return None, "the patient does not exist"
            recorded, patient_country = contact
            phone = phone or recorded
        if not phone:
            return None, "no phone number: the patient's record has none"
        try:
            return normalise_phone(phone, country or patient_country,
                                   self._config.default_country), None
        except InvalidInput as exc:
            return None, f"the phone number cannot be used: {exc.message}"

    async def unsendable(self, phone: str, patient_id: str | None, requires_consent: bool,
                         purpose: Purpose) -> str | None:
        """Why nothing may be sent to ``phone`` for this message (None: it may)."""
        if purpose in CONFIRMATIONS:
            return None
        consent = await self._store.consent(phone, patient_id or "")
        if consent is not None and consent.state is ConsentState.OPTED_OUT:
            return "the phone opted out of WhatsApp messages"
        if requires_consent and consent is None:
            return "no WhatsApp opt-in recorded for this patient and phone"
        return None

    async def window_open(self, phone: str) -> bool:
        opened = await self._store.window_opened(phone)
        return opened is not None and (self._now() - opened).total_seconds() < WINDOW_SECONDS


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(f"a message key has 1 to {MAX_KEY} printable characters",
                           details={"field": "key"})


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise InvalidInput("send_at needs a time zone (e.g. 2026-12-07T10:00:00Z)",
                           details={"field": "send_at"})
    return at.astimezone(UTC)
