"""A patient's quick-reply to an appointment message: confirm or cancel the Appointment.

Registered with messaging for the ``appointment:`` payload prefix. The change goes through
the FHIR store's one write path (resolvers/fhir/writer.py: a new version, the
``fhir.resource.updated`` event, the mirrors and the reminders' watch notice), with its
audit record (a system caller acting for the patient) and the catalogue event
(``appointment.confirmed`` / ``appointment.cancelled``) in the same transaction.

* confirm: the patient participant's status becomes ``accepted`` and a proposed or pending
  appointment ``booked``;
* cancel: status ``cancelled``, ``cancelationReason`` patient (``pat``); the reminders still
  pending are then cancelled by the watch notice;
* a reply is acted on only when it answers a message of this appointment (the replied-to
  key) or comes from a phone of the appointment's patient: a payload alone names an id,
  which is not proof of anything. Replies to an appointment that is over, cancelled or
  already in the asked state change nothing (a tap repeated is harmless).
"""

from __future__ import annotations

import copy
import logging
import re
from datetime import datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.fhir.model import StoredResource
from resolvers.fhir.ports import FhirUnitOfWork, FhirUnitOfWorkFactory
from resolvers.fhir.search_params import patient_of
from resolvers.fhir.writer import MirrorConfig, write_resource
from resolvers.messaging.model import QuickReply
from resolvers.messaging_uses.appointments import CANCEL, CONFIRM, KIND, start_of
from resolvers.messaging_uses.model import ACTIVE_APPOINTMENT
from resolvers.notifications.events import webhook_event
from resolvers.outbox.model import NewOutboxMessage
from resolvers.principal import Caller, Principal, Role

log = logging.getLogger("cari.messaging_uses")

CANCELLATION_REASONS = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
REPLY_CALLER = Caller(Principal(subject="system:whatsapp-quick-reply",
                                roles=frozenset({Role.INTEGRATOR.value})),
                      surface="whatsapp", purpose="patient quick reply")
SAME_NUMBER_DIGITS = 9  # national significant numbers: compare the last nine digits


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _same_phone(a: str, b: str) -> bool:
    da, db = _digits(a), _digits(b)
    return len(da) >= SAME_NUMBER_DIGITS and da[-SAME_NUMBER_DIGITS:] == db[-SAME_NUMBER_DIGITS:]


def _phones(patient: dict[str, Any]) -> list[str]:
    return [str(t["value"]) for t in patient.get("telecom") or []
            if isinstance(t, dict) and t.get("system") in ("phone", "sms")
            and isinstance(t.get("value"), str)]


def confirmed(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if out.get("status") in ("proposed", "pending"):
        out["status"] = "booked"
    for participant in out.get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        if isinstance(actor, dict) and str(actor.get("reference", "")).startswith("Patient/"):
            participant["status"] = "accepted"
    return out


def cancelled(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["status"] = "cancelled"
    out["cancelationReason"] = {"coding": [{"system": CANCELLATION_REASONS, "code": "pat",
                                            "display": "Patient"}], "text": "patient"}
    return out


class AppointmentReplies:
    """The QuickReplyHandler of the ``appointment:`` payloads."""

    def __init__(self, uow_factory: FhirUnitOfWorkFactory, clock: Clock,
                 mirror: MirrorConfig) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._mirror = mirror

    async def on_quick_reply(self, reply: QuickReply) -> None:
        action, rid = _parse(reply.payload)
        if action is None or rid is None:
            log.warning("appointment reply with an unknown payload", extra={
                "inbound_message_id": reply.inbound_message_id})
            return
        now = self._clock.now()
        async with self._uow_factory() as uow:
            current = (await uow.fhir.get_many("Appointment", [rid])).get(rid)
            if current is None or current.deleted:
                log.warning("appointment reply for an unknown appointment", extra={
                    "appointment_id": rid, "inbound_message_id": reply.inbound_message_id})
                return
            if not await self._from_its_patient(uow, reply, current, rid):
                log.warning("appointment reply not from the appointment's patient: ignored",
                            extra={"appointment_id": rid,
                                   "inbound_message_id": reply.inbound_message_id})
                return
            changed = self._changed(action, current.document, now)
            if changed is None:
                return  # over, cancelled, or already so: nothing to do
            stored = await write_resource(uow, changed, resource_id=rid,
                                          expected_version=current.version, now=now,
                                          mirror=self._mirror)
            patient = patient_of(stored.document)
            await uow.audit.append(audit_records(
                REPLY_CALLER, action=AuditAction.UPDATE, resource_type="Appointment",
                targets=[(rid, patient)], outcome=AuditOutcome.SUCCESS, at=now))
            await uow.outbox.enqueue([_event(action, stored, patient, reply, now)])
            await uow.commit()
        log.info("appointment %s by quick reply", "confirmed" if action == "confirm"
                 else "cancelled", extra={"appointment_id": rid, "version": stored.version})

    async def _from_its_patient(self, uow: FhirUnitOfWork, reply: QuickReply,
                                current: StoredResource, rid: str) -> bool:
        if reply.replied_to_key is not None:
            return reply.replied_to_key.startswith(f"{KIND}:{rid}:")
        patient_id = patient_of(current.document)
        if patient_id is None:
            return False
        patient = (await uow.fhir.get_many("Patient", [patient_id])).get(patient_id)
        return patient is not None and any(_same_phone(reply.phone, p)
                                           for p in _phones(patient.document))

    @staticmethod
    def _changed(action: str, doc: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        start = start_of(doc)
        if doc.get("status") not in ACTIVE_APPOINTMENT or start is None or start <= now:
            return None
        changed = confirmed(doc) if action == "confirm" else cancelled(doc)
        return None if changed == doc else changed


def _parse(payload: str) -> tuple[str | None, str | None]:
    for action, prefix in (("confirm", CONFIRM), ("cancel", CANCEL)):
        if payload.startswith(prefix) and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}",
                                                       payload[len(prefix):]):
            return action, payload[len(prefix):]
    return None, None


def _event(action: str, stored: StoredResource, patient: str | None, reply: QuickReply,
           at: datetime) -> NewOutboxMessage:
    name = "appointment.confirmed" if action == "confirm" else "appointment.cancelled"
    return webhook_event(name, {
        "appointment_id": stored.id, "patient_id": patient,
        "status": stored.document.get("status"), "version_id": str(stored.version),
        "channel": "whatsapp", "replied_at": reply.received_at.isoformat()},
        at, key=f"{stored.id}:{reply.inbound_message_id}")
