"""Use case 3 at the HTTP surface (SQLite and PostgreSQL): syndromic alerts (EARS C2, the
example mapping's method) arrive at the DHIS2 stand-in's /api/tracker as events, IDSR counts
as a dataValueSet; a 409 tracker report shows per event; a re-send updates, never duplicates.

Week 2026W11 is Monday 9 to Sunday 15 March 2026. Kisumu: 5 fever cases (R50.9) on 12 March
over a flat zero baseline (C2 = (5 - 0) / 1 = 5 > 3), 2 of them at a health centre whose
partOf is the Kisumu hospital (rolled up to its org unit), and a malaria case (B50.9) on 10
March;
Siaya: one fever case on 12 March (C2 = 1: no alert)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import (
    AGE_SEX,
    DEFAULT_COMBO,
    IDSR_ELEMENTS,
    KISUMU,
    SIAYA,
    dhis2_gateway,
    seed,
    settled,
    stand_in,
)
from tests.dhis2.test_idsr import _condition
from tests.support import Harness

pytestmark = pytest.mark.db
ROUTE = "/api/surveillance/export/dhis2"
ELEMENTS = {"EarsSyndrom": "FEVER", "EarsCases01": "5", "EarsExpect1": "0.00",
            "EarsStatis1": "5.00", "EarsMethod1": "C2"}


async def _seeded(h: Harness) -> None:
    await seed(h)
    r = await h.client.put("/api/fhir/Organization/org-kisumu-hc", json={
        "resourceType": "Organization", "id": "org-kisumu-hc", "name": "Kisumu HC",
        "partOf": {"reference": "Organization/org-kisumu-crh"}},
        headers=h.auth("integrator"))
    assert r.status_code in (200, 201), r.text
    kisumu = [(await h.create_patient(organization_id="org-kisumu-crh" if i < 3
                                      else "org-kisumu-hc", family=f"Fever{i}"))["id"]
              for i in range(5)]
    siaya = (await h.create_patient(organization_id="org-siaya-crh", family="Fever"))["id"]
    for patient in kisumu:
        await _condition(h, patient, "R50.9", "2026-03-12T09:00:00Z")
    await _condition(h, siaya, "R50.9", "2026-03-12T09:00:00Z")
    await _condition(h, kisumu[0], "B50.9", "2026-03-10T09:00:00Z")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


async def _export(h: Harness, **body: Any) -> dict[str, Any]:
    r = await h.client.post(ROUTE, json={"period": "2026W11", **body},
                            headers=h.auth("public_health"))
    assert r.status_code == 202, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_spike_is_an_event_and_idsr_a_data_value_set(
        tmp_path: Path, database_url: str, fake: FakeDhis2) -> None:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await _seeded(h)
        data = await _export(h)
        assert [(a["org_unit"], a["syndrome"], a["day"], a["cases"]) for a in data["alerts"]] \
            == [(KISUMU, "FEVER", "2026-03-12", 5)]
        events = await settled(h, data["events_push"]["id"])
        assert events["state"] == "success", events
        values = await settled(h, data["data_values_push"]["id"])
        assert values["state"] == "success", values
    (event,) = fake.events
    assert event["program"] == "EarsAlertPr" and event["programStage"] == "EarsAlertSt"
    assert event["orgUnit"] == KISUMU and event["occurredAt"] == "2026-03-12"
    assert {v["dataElement"]: v["value"] for v in event["dataValues"]} == ELEMENTS
    assert fake.tracker_params[0] == {"async": "false", "importStrategy": "CREATE_AND_UPDATE",
                                      "atomicMode": "OBJECT"}
    key = (IDSR_ELEMENTS["IDSR_MALARIA"], "2026W11", KISUMU, AGE_SEX["unknown"], DEFAULT_COMBO)
    assert fake.values[key] == "1"


async def test_no_spike_no_event(tmp_path: Path, database_url: str, fake: FakeDhis2) -> None:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await _seeded(h)
        data = await _export(h, org_unit=SIAYA)
        assert data["alerts"] == [] and data["events_push"] is None
        assert (await settled(h, data["data_values_push"]["id"]))["state"] == "success"
        daily = await _export(h, period="20260311")  # the day before the spike
        assert daily["alerts"] == [] and daily["data_values_push"] is None
    assert fake.events == [] and fake.tracker_params == []


async def test_resend_updates_the_same_event(tmp_path: Path, database_url: str,
                                             fake: FakeDhis2) -> None:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await _seeded(h)
        first = await settled(h, (await _export(h))["events_push"]["id"])
        second = await settled(h, (await _export(h, period="20260312"))["events_push"]["id"])
    assert first["summary"]["import_count"]["imported"] == 1
    assert second["summary"]["import_count"] == {"imported": 0, "updated": 1, "ignored": 0,
                                                 "deleted": 0}
    assert len(fake.events) == 1
    assert first["data_value_set"] == second["data_value_set"]


async def test_tracker_409_shows_each_refused_event(tmp_path: Path,
                                                    database_url: str) -> None:
    """Kisumu's org unit is unknown to DHIS2; Siaya gets a spike too (1 + 4 fever cases).
    With atomicMode OBJECT, Siaya's event is imported and Kisumu's refused."""
    async with serving(stand_in(org_units=(SIAYA,))) as fake, \
            dhis2_gateway(tmp_path, database_url, fake) as h:
        await _seeded(h)
        for i in range(4):
            patient = (await h.create_patient(organization_id="org-siaya-crh",
                                              family=f"Siaya{i}"))["id"]
            await _condition(h, patient, "R50", "2026-03-12T10:00:00Z")
        data = await _export(h, period="20260312")
        done = await settled(h, data["events_push"]["id"])
    assert done["state"] == "partial", done
    sent = data["events_push"]["data_value_set"]["events"]
    assert [e["orgUnit"] for e in sent] == [KISUMU, SIAYA]
    (conflict,) = done["summary"]["conflicts"]
    assert conflict["object"] == sent[0]["event"]
    assert conflict["error_code"] == "E1011" and conflict["indexes"] == [0]
    assert done["summary"]["import_count"]["imported"] == 1
    assert done["summary"]["import_count"]["ignored"] == 1
    assert [e["event"] for e in fake.events] == [sent[1]["event"]]


async def test_refused_credentials_dead_letter(tmp_path: Path, database_url: str,
                                               fake: FakeDhis2) -> None:
    async with dhis2_gateway(tmp_path, database_url, fake, api_token="d2pat_wrong") as h:
        await _seeded(h)
        done = await settled(h, (await _export(h, period="20260312"))["events_push"]["id"])
    assert done["state"] == "dead" and "401" in done["last_error"]


async def test_unknown_period_and_instance(tmp_path: Path, database_url: str,
                                           fake: FakeDhis2) -> None:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        for body in ({"period": "2026X1"}, {"period": "20260312",
                                            "dhis2_url": "https://other.example"}):
            r = await h.client.post(ROUTE, json=body, headers=h.auth("public_health"))
            assert r.status_code == 422, r.text
        r = await h.client.post(ROUTE, json={"period": "20260312"}, headers=h.auth("clinician"))
        assert r.status_code == 403


async def test_metadata_check_names_a_missing_program_stage(tmp_path: Path,
                                                            database_url: str) -> None:
    fake = stand_in()
    fake.programs = {"EarsAlertPr": []}
    fake.data_elements.pop("EarsMethod1")
    async with serving(fake), dhis2_gateway(tmp_path, database_url, fake) as h:
        r = await h.client.get("/api/public-health/dhis2/metadata-check",
                               headers=h.auth("public_health"))
    assert r.status_code == 200, r.text
    report = r.json()["data"]
    assert report["checked"]["programs"] == 1 and report["checked"]["programStages"] == 0
    assert {(m["kind"], m["uid"], m["where"]) for m in report["missing"]} == {
        ("programStages", "EarsAlertSt", "surveillance.programStage"),
        ("dataElements", "EarsMethod1", "surveillance.dataElements.method")}


async def test_outage_is_retried_by_the_outbox(tmp_path: Path, database_url: str,
                                               fake: FakeDhis2) -> None:
    fake.fail("/api/tracker", 503)
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await _seeded(h)
        done = await settled(h, (await _export(h, period="20260312"))["events_push"]["id"])
    assert done["state"] == "success" and done["attempts"] == 2, done
    assert len(fake.events) == 1


async def test_a_period_not_started_is_refused(tmp_path: Path, database_url: str,
                                              fake: FakeDhis2) -> None:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        r = await h.client.post(ROUTE, json={"period": "2099W1"},
                                headers=h.auth("public_health"))
        assert r.status_code == 422, r.text
        year, week, _day = datetime.now(UTC).date().isocalendar()
        current = await h.client.post(ROUTE, json={"period": f"{year}W{week}"},
                                      headers=h.auth("admin"))  # in progress: up to today
        assert current.status_code == 202, current.text
