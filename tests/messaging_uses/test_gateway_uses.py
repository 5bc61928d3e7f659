"""The patient uses at the public surface, on SQLite and PostgreSQL: FHIR writes of
Appointment and MedicationRequest over REST schedule, move and cancel their reminders through
the outbox; an HL7 result for a matched patient asks for a lab-result-ready message without a
value; the patient's search of appointments; the quick reply's change and its webhook event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from resolvers.messaging.model import MessageRequest, Purpose
from resolvers.messaging_uses.model import MessagingUsesConfig
from tests.hl7v2 import messages
from tests.messaging_uses.fakes import FakeScheduler
from tests.support import Harness, make_settings, running_app

NATID = "urn:oid:1.3.6.1.4.1.9999.1"
CONFIG = MessagingUsesConfig(facility_name="Kibera Clinic", lab_result_template="results_ready")


@contextlib.asynccontextmanager
async def uses_app(tmp_path: Path, database_url: str,
                   config: MessagingUsesConfig = CONFIG) -> AsyncIterator[
                       tuple[Harness, FakeScheduler]]:
    scheduler = FakeScheduler()
    settings = make_settings(tmp_path / "var", database_url, messaging_uses=config,
                             outbound_allowlist=("127.0.0.1",))
    async with running_app(settings, message_scheduler=scheduler) as harness:
        yield harness, scheduler


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def at(days: float) -> str:
    when = datetime.now(UTC) + timedelta(days=days)
    return when.replace(microsecond=0).astimezone().isoformat()


def appointment(patient_id: str, start: str, status: str = "booked") -> dict[str, Any]:
    end = (datetime.fromisoformat(start) + timedelta(minutes=30)).isoformat()
    return {"resourceType": "Appointment", "status": status, "start": start, "end": end,
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"},
                             "status": "needs-action"}]}


async def fhir(h: Harness, method: str, path: str, body: Any = None) -> dict[str, Any]:
    response = await h.client.request(method, f"/api/fhir/{path}", json=body,
                                      headers=h.auth("clinician"))
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


def pending(scheduler: FakeScheduler, prefix: str) -> dict[str, MessageRequest]:
    return {k: r for k, r in scheduler.pending().items() if k.startswith(prefix)}


async def test_appointment_reminders_follow_the_appointment(tmp_path: Path,
                                                           database_url: str) -> None:
    async with uses_app(tmp_path, database_url) as (h, scheduler):
        patient = await h.create_patient()
        created = await fhir(h, "POST", "Appointment", appointment(patient["id"], at(3)))
        aid = created["id"]
        await until(lambda: len(pending(scheduler, f"appointment:{aid}:")) == 2)
        first = pending(scheduler, f"appointment:{aid}:")
        audit = await h.client.get("/api/admin/audit-events?subject=system:patient-messaging",
                                   headers=h.auth("admin"))
        [read] = audit.json()["data"]["items"]  # the reminders' read of the patient's data
        assert (read["action"], read["resource_type"], read["resource_id"],
                read["patient_id"]) == ("R", "Appointment", aid, patient["id"])
        assert {r.purpose for r in first.values()} == {Purpose.APPOINTMENT_REMINDER}
        assert all(r.patient_id == patient["id"] for r in first.values())

        moved = await fhir(h, "PUT", f"Appointment/{aid}", {
            **appointment(patient["id"], at(5)), "id": aid})
        assert moved["meta"]["versionId"] == "2"
        await until(lambda: set(pending(scheduler, f"appointment:{aid}:")).isdisjoint(first)
                    and len(pending(scheduler, f"appointment:{aid}:")) == 2)
        assert all(k.startswith(f"appointment:{aid}:v2:")
                   for k in pending(scheduler, f"appointment:{aid}:"))

        await fhir(h, "PUT", f"Appointment/{aid}", {
            **appointment(patient["id"], at(5), status="cancelled"), "id": aid})
        await until(lambda: not pending(scheduler, f"appointment:{aid}:"))

        # The store serves it like any resource about a patient: searchable by patient.
        found = await fhir(h, "GET", f"Appointment?patient={patient['id']}&status=cancelled")
        assert [e["resource"]["id"] for e in found["entry"]] == [aid]
        capability = await fhir(h, "GET", "metadata")
        types = {r["type"]: r for r in capability["rest"][0]["resource"]}
        assert {"patient", "date", "status", "actor"} <= {
            p["name"] for p in types["Appointment"]["searchParam"]}


async def test_refill_reminder_from_a_prescription(tmp_path: Path, database_url: str) -> None:
    async with uses_app(tmp_path, database_url) as (h, scheduler):
        patient = await h.create_patient()
        start = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        rx = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
              "subject": {"reference": f"Patient/{patient['id']}"},
              "medicationCodeableConcept": {"text": "tenofovir"}, "authoredOn": start,
              "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "code": "d"}}}
        created = await fhir(h, "POST", "MedicationRequest", rx)
        rid = created["id"]
        await until(lambda: len(pending(scheduler, f"refill:{rid}:")) == 1)
        (reminder,) = pending(scheduler, f"refill:{rid}:").values()
        runs_out = (datetime.fromisoformat(start) + timedelta(days=30)).date()
        assert reminder.template.body_params == (runs_out.isoformat(), "Kibera Clinic")
        assert reminder.send_at.date() == runs_out - timedelta(days=3)
        assert "tenofovir" not in repr(reminder)
        await fhir(h, "PUT", f"MedicationRequest/{rid}", {**rx, "id": rid, "status": "stopped"})
        await until(lambda: not pending(scheduler, f"refill:{rid}:"))


async def test_a_matched_lab_result_asks_for_a_message_without_values(
        tmp_path: Path, database_url: str) -> None:
    async with uses_app(tmp_path, database_url) as (h, scheduler):
        patient = await h.create_patient(
            identifiers=[{"system": NATID, "value": "NID9988"}], family="Odhiambo",
            given=["Grace"], birth_date="1985-04-12", gender="female")
        response = await h.client.post(
            "/api/lab/hl7-ingest", content=(messages.WORKED_EXAMPLE + "\r").encode(),
            headers={**h.auth("lab"), "Content-Type": "text/plain"})
        assert response.status_code == 200, response.text
        result_id = response.json()["data"]["lab_result_id"]
        key = f"lab-result-ready:{result_id}:{patient['id']}"
        await until(lambda: key in scheduler.requests)
        request = scheduler.requests[key]
        assert request.purpose is Purpose.LAB_RESULT_READY and request.requires_consent
        assert request.template.name == "results_ready"
        assert request.template.body_params == ("Kibera Clinic",)
        assert "6.9" not in repr(request) and "Potassium" not in repr(request)


async def test_lab_results_off_writes_no_notice(tmp_path: Path, sqlite_url: str) -> None:
    async with uses_app(tmp_path, sqlite_url, MessagingUsesConfig()) as (h, _scheduler):
        await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                               family="Odhiambo", given=["Grace"], birth_date="1985-04-12",
                               gender="female")
        response = await h.client.post(
            "/api/lab/hl7-ingest", content=(messages.WORKED_EXAMPLE + "\r").encode(),
            headers={**h.auth("lab"), "Content-Type": "text/plain"})
        assert response.status_code == 200
        outbox = await h.client.get("/api/admin/outbox?destination=lab_result_linked",
                                    headers=h.auth("admin"))
        assert outbox.json()["data"]["items"] == []


class FailingOnce(FakeScheduler):
    """The scheduler is down for the first call (a crash between the write and the
    scheduling, as the outbox sees it): the notice is retried and nothing is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def schedule(self, requests: Any) -> Any:
        if self.failures == 0:
            self.failures += 1
            raise ConnectionError("scheduler unavailable")
        return await super().schedule(requests)


async def test_a_failure_after_the_write_only_delays_the_reminders(tmp_path: Path,
                                                                  database_url: str) -> None:
    scheduler = FailingOnce()
    settings = make_settings(tmp_path / "var", database_url, messaging_uses=CONFIG,
                             outbox_backoff_base_seconds=0.05, outbox_backoff_max_seconds=0.1)
    async with running_app(settings, message_scheduler=scheduler) as h:
        patient = await h.create_patient()
        created = await fhir(h, "POST", "Appointment", appointment(patient["id"], at(3)))
        await until(lambda: len(pending(scheduler, f"appointment:{created['id']}:")) == 2)
        assert scheduler.failures == 1


async def test_a_result_linked_by_review_tells_the_patient_then(tmp_path: Path,
                                                               database_url: str) -> None:
    async with uses_app(tmp_path, database_url) as (h, scheduler):
        # Name and birth day/month swapped, no identifier: held for review, not linked.
        lookalike = await h.create_patient(
            identifiers=[{"system": "urn:test:other", "value": "X1"}], family="Odhiambo",
            given=["Grace"], birth_date="1985-12-04", gender="female")
        response = await h.client.post(
            "/api/lab/hl7-ingest", content=(messages.WORKED_EXAMPLE + "\r").encode(),
            headers={**h.auth("lab"), "Content-Type": "text/plain"})
        result = response.json()["data"]
        assert result["patient_matched"] is False
        await asyncio.sleep(0.3)
        assert not [k for k in scheduler.requests if k.startswith("lab-result-ready:")]
        queue = (await h.client.get("/api/mpi/review", headers=h.auth("clinician"))).json()
        [task] = queue["data"]["items"]
        resolved = await h.client.post(f"/api/mpi/review/{task['id']}/resolve",
                                       json={"decision": "link"}, headers=h.auth("clinician"))
        assert resolved.status_code == 200, resolved.text
        key = f"lab-result-ready:{result['lab_result_id']}:{lookalike['id']}"
        await until(lambda: key in scheduler.requests)
