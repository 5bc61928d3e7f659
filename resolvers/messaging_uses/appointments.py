"""The messages an Appointment calls for: reminders at the configured offsets before its
start, and a confirmation when it is booked (pure functions; the reconciler acts on them).

Templates (registered in WhatsApp by the operator):

* reminder and confirmation: body ``{{1}}`` the date (``2026-12-10``), ``{{2}}`` the time
  (``09:30``, in the time zone the start was written in), ``{{3}}`` the place (a Location
  participant's display, else ``CARI_PATIENT_MESSAGE_FACILITY``); two quick-reply buttons,
  confirm then cancel, whose payloads are ``appointment:confirm:{id}`` and
  ``appointment:cancel:{id}``.

No name, no reason, no practitioner: whoever reads the phone learns a time and a place.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from resolvers.fhir.search_params import patient_of, patient_reference
from resolvers.messaging.model import MessageRequest, Purpose, TemplateCall
from resolvers.messaging_uses.model import (
    ACTIVE_APPOINTMENT,
    MessagingUsesConfig,
    offset_label,
)
from resolvers.messaging_uses.runs import run_prefix

KIND = "appointment"
CONFIRM = "appointment:confirm:"
CANCEL = "appointment:cancel:"


def start_of(doc: dict[str, Any]) -> datetime | None:
    """The start as an aware datetime (an instant carries its offset), else None."""
    raw = doc.get("start")
    if not isinstance(raw, str):
        return None
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return start if start.tzinfo is not None else None


def patient_participant(doc: dict[str, Any]) -> dict[str, Any] | None:
    for participant in doc.get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        if isinstance(actor, dict) and patient_reference(actor.get("reference")):
            return dict(participant)
    return None


def signature(doc: dict[str, Any]) -> Hashable | None:
    """What the reminders depend on: the start and the patient, while the appointment is
    active and its patient has not declined it. The rest (a confirmation, notes) keeps the
    run."""
    start = start_of(doc)
    patient = patient_participant(doc)
    if (doc.get("status") not in ACTIVE_APPOINTMENT or start is None or patient is None
            or patient.get("status") == "declined"):
        return None
    return start.isoformat(), patient_of(doc)


def _place(doc: dict[str, Any], config: MessagingUsesConfig) -> str:
    for participant in doc.get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        ref = actor.get("reference") if isinstance(actor, dict) else None
        if isinstance(ref, str) and "Location/" in ref and isinstance(actor, dict) \
                and isinstance(actor.get("display"), str) and actor["display"].strip():
            return str(actor["display"]).strip()
    return config.facility_name or "-"


def _key_start(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def appointment_messages(doc: dict[str, Any], run: int, now: datetime,
                         config: MessagingUsesConfig) -> list[MessageRequest]:
    """The messages of the current run of ``doc`` still to come (offsets already past are
    skipped; nothing once the start has passed)."""
    start = start_of(doc)
    patient = patient_of(doc)
    rid = str(doc.get("id") or "")
    if signature(doc) is None or start is None or patient is None or not rid or start <= now:
        return []
    params = (start.strftime("%Y-%m-%d"), start.strftime("%H:%M"), _place(doc, config))
    buttons = (f"{CONFIRM}{rid}", f"{CANCEL}{rid}")
    prefix = f"{run_prefix(KIND, rid, run)}{_key_start(start)}:"
    out: list[MessageRequest] = []
    if config.appointment_confirmation_template and doc.get("status") == "booked":
        out.append(MessageRequest(
            key=f"{prefix}confirmation", purpose=Purpose.APPOINTMENT_CONFIRMATION,
            template=TemplateCall(config.appointment_confirmation_template, config.language,
                                  body_params=params, button_payloads=buttons),
            send_at=now, patient_id=patient))
    if config.appointment_reminder_template:
        for offset in config.appointment_offsets:
            send_at = start - offset
            if send_at <= now:
                continue  # too late for this one: the next offset still goes
            out.append(MessageRequest(
                key=f"{prefix}{offset_label(offset)}", purpose=Purpose.APPOINTMENT_REMINDER,
                template=TemplateCall(config.appointment_reminder_template, config.language,
                                      body_params=params, button_payloads=buttons),
                send_at=send_at, patient_id=patient))
    return out
