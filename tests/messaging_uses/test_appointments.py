"""Appointment reminders: the plan, the runs of versions, the reconciler over the in-memory
store (reschedules, cancellations, late and repeated notices) and the quick replies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from resolvers.audit.model import AuditAction, AuditOutcome, AuditRecord
from resolvers.fhir.model import StoredResource
from resolvers.fhir.writer import MirrorConfig, write_resource
from resolvers.messaging.model import Purpose, QuickReply
from resolvers.messaging_uses.appointment_replies import AppointmentReplies
from resolvers.messaging_uses.appointments import appointment_messages, signature
from resolvers.messaging_uses.model import APPOINTMENT_WATCH, MessagingUsesConfig
from resolvers.messaging_uses.reconciler import Reconciler
from resolvers.messaging_uses.runs import runs_of
from resolvers.messaging_uses.wiring import APPOINTMENTS, watchers
from tests.messaging_uses.fakes import FakeScheduler

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
CONFIG = MessagingUsesConfig(facility_name="Kibera Clinic",
                             appointment_confirmation_template="appointment_booked")


@dataclass
class Clock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


def appointment(start: str = "2026-12-10T09:30:00+03:00", status: str = "booked",
                **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "Appointment", "status": status, "start": start,
        "end": start.replace(":30:00", ":59:00"), "description": "HIV follow-up",
        "participant": [{"actor": {"reference": "Patient/p1", "display": "Amina Otieno"},
                         "status": "needs-action"},
                        {"actor": {"reference": "Location/l1", "display": "Room 4, Kibera"},
                         "status": "accepted"}]}
    doc.update(changes)
    return doc


def version(doc: dict[str, Any], v: int, deleted: bool = False) -> StoredResource:
    return StoredResource("Appointment", "a1", v, NOW, deleted, {} if deleted else
                          {**doc, "id": "a1"})


def test_reminders_at_each_offset_with_date_time_place_and_buttons_only() -> None:
    messages = appointment_messages({**appointment(), "id": "a1"}, 1, NOW, CONFIG)
    assert [(m.key, m.purpose, m.send_at) for m in messages] == [
        ("appointment:a1:v1:20261210T0630Z:confirmation", Purpose.APPOINTMENT_CONFIRMATION, NOW),
        ("appointment:a1:v1:20261210T0630Z:1d", Purpose.APPOINTMENT_REMINDER,
         datetime(2026, 12, 9, 6, 30, tzinfo=UTC)),
        ("appointment:a1:v1:20261210T0630Z:2h", Purpose.APPOINTMENT_REMINDER,
         datetime(2026, 12, 10, 4, 30, tzinfo=UTC))]
    reminder = messages[1]
    # The local time as written (+03:00), the Location's display; no name, no reason.
    assert reminder.template.body_params == ("2026-12-10", "09:30", "Room 4, Kibera")
    assert reminder.template.button_payloads == ("appointment:confirm:a1",
                                                 "appointment:cancel:a1")
    assert reminder.patient_id == "p1" and reminder.requires_consent
    assert "Amina" not in repr(messages) and "HIV" not in repr(messages)


def test_offsets_already_past_are_skipped_and_nothing_after_the_start() -> None:
    late = NOW.replace(day=9, hour=7)  # 23.5 h before the start
    keys = [m.key.rsplit(":", 1)[1]
            for m in appointment_messages({**appointment(), "id": "a1"}, 1, late, CONFIG)]
    assert keys == ["confirmation", "2h"]
    after = NOW.replace(day=11)
    assert appointment_messages({**appointment(), "id": "a1"}, 1, after, CONFIG) == []


def test_no_confirmation_unless_booked_and_configured() -> None:
    keys = [m.key for m in appointment_messages({**appointment(status="pending"), "id": "a1"},
                                                1, NOW, CONFIG)]
    assert not any(k.endswith("confirmation") for k in keys) and len(keys) == 2
    plain = MessagingUsesConfig()
    keys = [m.key for m in appointment_messages({**appointment(), "id": "a1"}, 1, NOW, plain)]
    assert not any(k.endswith("confirmation") for k in keys)


@pytest.mark.parametrize("doc", [
    appointment(status="cancelled"), appointment(status="noshow"),
    appointment(status="fulfilled"), appointment(start="not a time"),
    appointment(participant=[{"actor": {"reference": "Practitioner/x"}, "status": "accepted"}]),
    appointment(participant=[{"actor": {"reference": "Patient/p1"}, "status": "declined"}]),
])
def test_inactive_or_unusable_appointments_call_for_nothing(doc: dict[str, Any]) -> None:
    assert signature(doc) is None
    assert appointment_messages({**doc, "id": "a1"}, 1, NOW, CONFIG) == []


def test_runs_keep_keys_on_unrelated_edits_and_start_again_on_changes() -> None:
    a, b = appointment(), appointment(start="2026-12-11T09:30:00+03:00")
    confirmed = appointment(participant=[{"actor": {"reference": "Patient/p1"},
                                          "status": "accepted"}])
    history = [version(a, 1), version(confirmed, 2)]
    assert runs_of(history, signature).current == 1  # a confirmation keeps the run
    history += [version(b, 3), version(a, 4)]  # moved, then moved back
    runs = runs_of(list(reversed(history)), signature)
    assert (runs.current, runs.stale) == (4, (1, 3))
    gone = runs_of([*history, version(a, 5, deleted=True)], signature)
    assert (gone.current, gone.stale) == (None, (1, 3, 4))
    other = appointment(participant=[{"actor": {"reference": "Patient/p2"},
                                      "status": "needs-action"}])
    moved = runs_of([*history, version(other, 5)], signature)  # another patient's now
    assert (moved.current, moved.stale) == (5, (1, 3, 4))


class Store:
    """The in-memory FHIR store with the appointment watcher on, and the reconciler."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.clock = Clock()
        self.scheduler = FakeScheduler()
        self.mirror = MirrorConfig(watchers=watchers(CONFIG))
        self.audited: list[AuditRecord] = []
        self.reconciler = Reconciler(APPOINTMENTS, self.uow, self.scheduler, self.clock, CONFIG,
                                     self)

    async def record(self, records: Sequence[AuditRecord]) -> None:  # the AuditWriter port
        self.audited.extend(records)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.state, self.clock.now)

    async def write(self, doc: dict[str, Any], expected: int | None) -> StoredResource:
        async with self.uow() as uow:
            stored = await write_resource(uow, doc, resource_id="a1", expected_version=expected,
                                          now=self.clock.now(), mirror=self.mirror)
            await uow.commit()
        return stored

    def notices(self) -> list[int]:
        return sorted(m.payload["version"] for m in self.state.outbox.values()
                      if m.destination == APPOINTMENT_WATCH)


async def test_reschedule_cancels_the_old_reminders_and_a_late_notice_cannot_revive_them(
        ) -> None:
    store = Store()
    await store.write(appointment(), None)
    assert store.notices() == [1]  # in the write's transaction
    await store.reconciler.reconcile("a1")
    first = set(store.scheduler.pending())
    assert len(first) == 3
    await store.write(appointment(start="2026-12-12T14:00:00+03:00"), 1)
    await store.reconciler.reconcile("a1")
    await store.reconciler.reconcile("a1")  # the notice of version 1, late: no change
    pending = store.scheduler.pending()
    assert not first & set(pending)
    assert sorted(k.split(":", 3)[3] for k in pending) == [
        "20261212T1100Z:1d", "20261212T1100Z:2h", "20261212T1100Z:confirmation"]
    assert all(k.startswith("appointment:a1:v2:") for k in pending)
    # Each reconciliation read the patient's appointment: audited, by the system.
    assert [(r.subject, r.action, r.resource_id, r.patient_id, r.outcome)
            for r in store.audited] == [("system:patient-messaging", AuditAction.READ, "a1", "p1",
                                         AuditOutcome.SUCCESS)] * 3


async def test_cancelled_appointment_cancels_pending_reminders_and_back_to_booked_again(
        ) -> None:
    store = Store()
    await store.write(appointment(), None)
    await store.reconciler.reconcile("a1")
    await store.write(appointment(status="cancelled"), 1)
    done = await store.reconciler.reconcile("a1")
    assert (done.cancelled, store.scheduler.pending()) == (3, {})
    await store.write(appointment(), 2)  # rebooked at the same time: new keys, sent again
    await store.reconciler.reconcile("a1")
    assert len(store.scheduler.pending()) == 3
    assert all(":v3:" in k for k in store.scheduler.pending())


async def test_a_sent_reminder_is_not_sent_again_after_an_edit() -> None:
    store = Store()
    await store.write(appointment(), None)
    await store.reconciler.reconcile("a1")
    store.clock.at = datetime(2026, 12, 9, 6, 31, tzinfo=UTC)
    sent = store.scheduler.send_due(store.clock.at)
    assert [m.key.rsplit(":", 1)[1] for m in sent] == ["confirmation", "1d"]
    await store.write(appointment(description="bring your card"), 1)
    await store.reconciler.reconcile("a1")
    assert store.scheduler.send_due(store.clock.at) == []
    assert [k.rsplit(":", 1)[1] for k in store.scheduler.pending()] == ["2h"]


def reply(payload: str, *, key: str | None = "appointment:a1:v1:20261210T0630Z:1d",
          phone: str = "+254700000001", wamid: str = "wamid.1") -> QuickReply:
    return QuickReply(wamid, phone, payload, "Confirm", key, NOW)


async def test_confirm_and_cancel_by_quick_reply() -> None:
    store = Store()
    await store.write(appointment(status="pending"), None)
    replies = AppointmentReplies(store.uow, store.clock, store.mirror)
    await replies.on_quick_reply(reply("appointment:confirm:a1"))
    doc = store.state.fhir.current[("Appointment", "a1")].document
    assert doc["status"] == "booked" and doc["participant"][0]["status"] == "accepted"
    assert doc["meta"]["versionId"] == "2"
    await replies.on_quick_reply(reply("appointment:confirm:a1", wamid="wamid.2"))
    assert store.state.fhir.current[("Appointment", "a1")].version == 2  # nothing to change
    await replies.on_quick_reply(reply("appointment:cancel:a1", wamid="wamid.3"))
    doc = store.state.fhir.current[("Appointment", "a1")].document
    assert doc["status"] == "cancelled" and doc["cancelationReason"]["coding"][0]["code"] == "pat"
    events = {m.payload["type"]: m.payload["data"] for m in store.state.outbox.values()
              if m.destination == "webhook_fanout"
              and m.payload["type"].startswith("appointment.")}
    assert events["appointment.confirmed"]["status"] == "booked"
    assert events["appointment.cancelled"] == {
        "appointment_id": "a1", "patient_id": "p1", "status": "cancelled", "version_id": "3",
        "channel": "whatsapp", "replied_at": NOW.isoformat()}
    audit = [(r.subject, r.action, r.patient_id) for r in store.state.audit
             if r.resource_type == "Appointment"]
    assert audit == [("system:whatsapp-quick-reply", AuditAction.UPDATE, "p1")] * 2
    assert store.notices() == [1, 2, 3]  # each change reconciles the reminders


async def test_replies_not_about_this_appointment_change_nothing() -> None:
    store = Store()
    await store.write(appointment(), None)
    replies = AppointmentReplies(store.uow, store.clock, store.mirror)
    await replies.on_quick_reply(reply("appointment:cancel:a1", key="appointment:a2:v1:x:1d"))
    await replies.on_quick_reply(reply("appointment:cancel:a1", key=None))  # phone unknown
    await replies.on_quick_reply(reply("appointment:cancel:zz"))
    await replies.on_quick_reply(reply("appointment:reschedule:a1"))
    assert store.state.fhir.current[("Appointment", "a1")].version == 1


async def test_a_reply_without_a_known_message_is_matched_on_the_patients_phone() -> None:
    store = Store()
    async with store.uow() as uow:
        await write_resource(uow, {"resourceType": "Patient", "telecom": [
            {"system": "phone", "value": "0700 000 001"}]}, resource_id="p1",
            expected_version=None, now=NOW, mirror=MirrorConfig())
        await uow.commit()
    await store.write(appointment(), None)
    replies = AppointmentReplies(store.uow, store.clock, store.mirror)
    await replies.on_quick_reply(reply("appointment:cancel:a1", key=None, phone="+254700000001"))
    assert store.state.fhir.current[("Appointment", "a1")].document["status"] == "cancelled"
