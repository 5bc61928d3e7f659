"""The patient uses end to end with WhatsApp messaging against the fake Graph API, on SQLite
and PostgreSQL: an Appointment written over FHIR REST becomes a reminder template at the
Graph API when due, with the date, time and place and the two quick-reply payloads; the
patient's signed "cancel" button reply cancels the Appointment and a subscribed endpoint gets
``appointment.cancelled``; a matched HL7 result tells an opted-in patient that results are
ready (no value), and a patient who did not opt in is told nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from resolvers.messaging_uses.model import MessagingUsesConfig
from tests.hl7v2 import messages
from tests.messaging.conftest import World, whatsapp_settings
from tests.messaging.fake_graph import serving_graph
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid
from tests.notifications.support import subscribe
from tests.receiver import wait_for
from tests.support import make_settings, running_app

NATID = "urn:oid:1.3.6.1.4.1.9999.1"
PHONE = "+254711000222"
REMINDER = "Reminder: your appointment on {{1}} at {{2}}, {{3}}."
READY = "Your results are ready at {{1}}."
CONFIG = MessagingUsesConfig(facility_name="Kibera Clinic", lab_result_template="results_ready",
                             appointment_offsets=(timedelta(hours=24), timedelta(hours=2)))


@contextlib.asynccontextmanager
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    async with serving_graph() as graph:
        settings = make_settings(tmp_path / "var", database_url,
                                 outbound_allowlist=("127.0.0.1",),
                                 whatsapp=whatsapp_settings(graph), messaging_uses=CONFIG)
        async with running_app(settings) as gateway:
            yield World(graph, gateway)


async def messages_of(w: World, patient_id: str) -> list[dict[str, Any]]:
    response = await w.gateway.client.get(f"/api/notifications?patient_id={patient_id}",
                                          headers=w.gateway.auth("clinician"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


async def until_messages(w: World, patient_id: str, check: Any,
                         timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await messages_of(w, patient_id)
        if check(found):
            return found
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.1)


async def test_reminder_sent_then_cancelled_by_the_patients_button(tmp_path: Path,
                                                                   database_url: str) -> None:
    async with running_webhook_receiver() as receiver, world(tmp_path, database_url) as w:
        h = w.gateway
        await w.register("appointment_reminder", "en", REMINDER, buttons=("Confirm", "Cancel"))
        endpoint = await subscribe(h, receiver.url("appointments"), ["appointment.*"])
        patient = await w.patient(PHONE)
        # The 24 h reminder is due in a few seconds (a margin for a busy machine: an offset
        # already past when the notice is handled is skipped); the 2 h one waits.
        start = (datetime.now(UTC) + timedelta(hours=24, seconds=5)).replace(microsecond=0)
        created = await h.client.post("/api/fhir/Appointment", json={
            "resourceType": "Appointment", "status": "booked",
            "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
            "participant": [{"actor": {"reference": f"Patient/{patient}"},
                             "status": "needs-action"},
                            {"actor": {"reference": "Location/room-4", "display": "Room 4"},
                             "status": "accepted"}]}, headers=h.auth("clinician"))
        assert created.status_code == 201, created.text
        aid = created.json()["id"]
        found = await until_messages(w, patient, lambda ms: any(
            m["status"] == "sent" for m in ms) and len(ms) == 2, timeout=25.0)
        sent = next(m for m in found if m["status"] == "sent")
        assert sent["key"].endswith(":1d") and sent["purpose"] == "appointment_reminder"
        assert next(m for m in found if m["status"] != "sent")["status"] == "scheduled"
        [accepted] = w.graph.sent_to(PHONE)
        template = accepted.body["template"]
        assert template["name"] == "appointment_reminder"
        body = next(c for c in template["components"] if c["type"] == "body")
        assert [p["text"] for p in body["parameters"]] == [
            start.strftime("%Y-%m-%d"), start.strftime("%H:%M"), "Room 4"]
        buttons = [c["parameters"][0]["payload"] for c in template["components"]
                   if c["type"] == "button"]
        assert buttons == [f"appointment:confirm:{aid}", f"appointment:cancel:{aid}"]

        reply = await w.post_webhook(w.graph.button_reply(
            PHONE, f"appointment:cancel:{aid}", "Cancel", context_id=accepted.wamid))
        assert reply.status_code == 200, reply.text

        async def cancelled() -> bool:
            got = await h.client.get(f"/api/fhir/Appointment/{aid}", headers=h.auth("clinician"))
            return bool(got.json()["status"] == "cancelled")

        deadline = asyncio.get_running_loop().time() + 15
        while not await cancelled():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        doc = (await h.client.get(f"/api/fhir/Appointment/{aid}",
                                  headers=h.auth("clinician"))).json()
        assert doc["cancelationReason"]["coding"][0]["code"] == "pat"
        assert doc["meta"]["versionId"] == "2"
        # The 2 h reminder is cancelled with the appointment.
        await until_messages(w, patient, lambda ms: sorted(m["status"] for m in ms) == [
            "cancelled", "sent"])
        await wait_for(lambda: receiver.hook("appointments").events(), timeout=15)
        [event] = receiver.hook("appointments").events()
        assert receiver.hook("appointments").ok_hits[0].verifies_with(endpoint["secret"])
        assert_valid(event)
        assert event["type"] == "appointment.cancelled"
        assert event["data"]["appointment_id"] == aid and event["data"]["patient_id"] == patient
        assert len(w.graph.accepted) == 1  # nothing else went out


async def test_results_ready_only_for_a_patient_who_opted_in(tmp_path: Path,
                                                            database_url: str) -> None:
    async with world(tmp_path, database_url) as w:
        await w.register("results_ready", "en", READY)
        opted_in = await w.patient(PHONE, identifiers=[{"system": NATID, "value": "NID9988"}],
                                   family="Odhiambo", given=["Grace"],
                                   birth_date="1985-04-12", gender="female")
        response = await w.gateway.client.post(
            "/api/lab/hl7-ingest", content=(messages.WORKED_EXAMPLE + "\r").encode(),
            headers={**w.gateway.auth("lab"), "Content-Type": "text/plain"})
        assert response.status_code == 200, response.text
        assert response.json()["data"]["patient_id"] == opted_in
        [message] = await until_messages(w, opted_in, lambda ms: ms and ms[0]["status"] == "sent")
        assert message["purpose"] == "lab_result_ready"
        [accepted] = w.graph.sent_to(PHONE)
        assert accepted.body["template"]["components"] == [
            {"type": "body", "parameters": [{"type": "text", "text": "Kibera Clinic"}]}]
        assert "6.9" not in str(accepted.body) and "Potassium" not in str(accepted.body)

        other_phone = "+254711000333"
        not_asked = await w.patient(other_phone, opted_in=False, identifiers=[
            {"system": NATID, "value": "NID7777"}], family="Wekesa", given=["John"],
            birth_date="1970-01-01", gender="male")
        again = messages.WORKED_EXAMPLE.replace("NID9988", "NID7777").replace(
            "ODHIAMBO^GRACE^A", "WEKESA^JOHN").replace("19850412|F", "19700101|M").replace(
            "LAB000123", "LAB000124")
        response = await w.gateway.client.post(
            "/api/lab/hl7-ingest", content=(again + "\r").encode(),
            headers={**w.gateway.auth("lab"), "Content-Type": "text/plain"})
        assert response.json()["data"]["patient_id"] == not_asked
        [held] = await until_messages(w, not_asked, lambda ms: bool(ms))
        assert held["status"] == "suppressed" and held["reason"]
        await asyncio.sleep(0.5)
        assert w.graph.sent_to(other_phone) == []


async def test_refill_reminder_is_stored_for_its_day_and_cancelled_when_stopped(
        tmp_path: Path, database_url: str) -> None:
    async with world(tmp_path, database_url) as w:
        h = w.gateway
        await w.register("refill_reminder", "en", "Your medicine runs out on {{1}}. Please "
                         "collect more at {{2}}.")
        patient = await w.patient(PHONE)
        start = (datetime.now(UTC) + timedelta(days=1)).date()
        rx = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
              "subject": {"reference": f"Patient/{patient}"},
              "medicationCodeableConcept": {"text": "dolutegravir"},
              "authoredOn": start.isoformat(),
              "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1,
                                                           "periodUnit": "d"}},
                                     "doseAndRate": [{"doseQuantity": {"value": 1}}]}],
              "dispenseRequest": {"quantity": {"value": 30}}}
        created = await h.client.post("/api/fhir/MedicationRequest", json=rx,
                                      headers=h.auth("clinician"))
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        [message] = await until_messages(w, patient, lambda ms: bool(ms))
        runs_out = start + timedelta(days=30)
        assert (message["purpose"], message["status"]) == ("refill_reminder", "scheduled"), message
        assert message["key"] == f"refill:{rid}:v1:{runs_out.isoformat()}"
        assert datetime.fromisoformat(message["send_at"]) == datetime(
            runs_out.year, runs_out.month, runs_out.day, 9, tzinfo=UTC) - timedelta(days=3)
        stopped = await h.client.put(f"/api/fhir/MedicationRequest/{rid}", json={
            **rx, "id": rid, "status": "stopped"}, headers=h.auth("clinician"))
        assert stopped.status_code == 200, stopped.text
        await until_messages(w, patient, lambda ms: ms[0]["status"] == "cancelled")
        assert w.graph.sent_to(PHONE) == []
