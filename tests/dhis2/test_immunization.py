"""Use case 2 (doses): completed Immunizations by antigen (CVX) and dose number, counted by
the database, exported and pushed (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import (
    COVERAGE_ELEMENTS,
    HOMABAY,
    IMM_ELEMENTS,
    KISUMU,
    POPULATION,
    SIAYA,
    dhis2_gateway,
    seed,
    settled,
    stand_in,
)
from tests.support import Harness

pytestmark = pytest.mark.db
CVX = "http://hl7.org/fhir/sid/cvx"
MONTH = {"dataset": "immunization_monthly", "period": "202603"}


async def _dose(h: Harness, patient: str, cvx: str, when: str, dose: int | None = None,
                status: str = "completed") -> None:
    body: dict[str, Any] = {"resourceType": "Immunization", "status": status,
                            "vaccineCode": {"coding": [{"system": CVX, "code": cvx}]},
                            "patient": {"reference": f"Patient/{patient}"},
                            "occurrenceDateTime": when}
    if dose is not None:
        body["protocolApplied"] = [{"doseNumberPositiveInt": dose}]
    r = await h.client.post("/api/fhir/Immunization", json=body, headers=h.auth("clinician"))
    assert r.status_code == 201, r.text


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str, fake: FakeDhis2) -> AsyncIterator[Harness]:
    """Kisumu, March 2026: BCG (no dose number); Penta 1 for two children, Penta 3 for one;
    bivalent OPV (CVX 178) dose 2; measles (CVX 05) dose 1. Not counted: a Penta 2 not done,
    a Penta 4 (not a reported dose), a Rota 1 in April."""
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await seed(h)
        a = (await h.create_patient(organization_id="org-kisumu-crh", family="Baby"))["id"]
        b = (await h.create_patient(organization_id="org-kisumu-crh", family="Toto"))["id"]
        await _dose(h, a, "19", "2026-03-02")
        await _dose(h, a, "102", "2026-03-03T09:00:00Z", 1)
        await _dose(h, b, "102", "2026-03-04", 1)
        await _dose(h, b, "102", "2026-03-30", 3)
        await _dose(h, a, "178", "2026-03-05", 2)
        await _dose(h, b, "05", "2026-03-06", 1)
        await _dose(h, a, "102", "2026-03-07", 2, status="not-done")
        await _dose(h, b, "102", "2026-03-08", 4)
        await _dose(h, a, "116", "2026-04-01", 1)
        yield h


async def test_doses_by_antigen_and_dose_number(seeded: Harness, fake: FakeDhis2) -> None:
    r = await seeded.client.get("/api/public-health/dhis2-export",
                                params={**MONTH, "org_unit": KISUMU},
                                headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    names = {uid: code for code, uid in IMM_ELEMENTS.items()}
    values = {names[v["dataElement"]]: v["value"] for v in r.json()["dataValues"]}
    assert len(values) == len(IMM_ELEMENTS)  # every dose, zeros included
    assert {k: v for k, v in values.items() if v != "0"} == {
        "IMM_BCG": "1", "IMM_PENTA1": "2", "IMM_PENTA3": "1", "IMM_OPV2": "1", "IMM_MR1": "1"}
    pushed = await seeded.client.post("/api/public-health/dhis2-push", json={
        "dhis2_url": fake.base_url, **MONTH, "org_unit": KISUMU},
        headers=seeded.auth("public_health"))
    done = await settled(seeded, pushed.json()["data"]["id"])
    assert done["state"] == "success" and done["summary"]["import_count"]["imported"] == 15


async def test_coverage_takes_its_denominator_from_dhis2(seeded: Harness,
                                                         fake: FakeDhis2) -> None:
    """Kisumu's 2026 target population is 365 surviving infants: 31 expected in March, so one
    Penta 3 dose is 3.2% and one MR 1 dose 3.2%. Siaya has no population: no coverage."""
    fake.values[(POPULATION, "2026", KISUMU, "HllvX50cXC0", "HllvX50cXC0")] = "365"
    r = await seeded.client.get("/api/public-health/dhis2-export", params={
        "dataset": "immunization_coverage_monthly", "period": "202603"},
        headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    names = {uid: code for code, uid in {**IMM_ELEMENTS, **COVERAGE_ELEMENTS}.items()}
    values = {(v["orgUnit"], names[v["dataElement"]]): v["value"] for v in r.json()["dataValues"]}
    assert values == {(KISUMU, "IMM_PENTA3"): "1", (KISUMU, "IMM_PENTA3_COVERAGE"): "3.2",
                      (KISUMU, "IMM_MR1"): "1", (KISUMU, "IMM_MR1_COVERAGE"): "3.2",
                      (SIAYA, "IMM_PENTA3"): "0", (SIAYA, "IMM_MR1"): "0",
                      (HOMABAY, "IMM_PENTA3"): "0", (HOMABAY, "IMM_MR1"): "0"}
    method, path, _headers, _body = fake.requests[-1]
    assert (method, path) == ("GET", "/api/dataValueSets")
    fake.fail("/api/dataValueSets", 500)
    r = await seeded.client.get("/api/public-health/dhis2-export", params={
        "dataset": "immunization_coverage_monthly", "period": "202603"},
        headers=seeded.auth("public_health"))
    assert r.status_code == 502 and "population" in r.json()["error"]["message"]
