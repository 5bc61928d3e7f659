"""Use case 4: maternal and child health indicators (ANC1, ANC4, facility deliveries, births
weighed, low birth weight and its rate, under-5 visits), counted by the database, exported
and pushed (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import (
    KISUMU,
    LOINC,
    MCH_ELEMENTS,
    SIAYA,
    SNOMED,
    dhis2_gateway,
    seed,
    settled,
    stand_in,
)
from tests.support import Harness, count_queries

pytestmark = pytest.mark.db
MONTH = {"dataset": "mch_monthly", "period": "202603"}
INITIAL, PRENATAL, ANTENATAL, DELIVERY = "424441002", "424619006", "424525001", "236973005"


async def encounter(h: Harness, patient: str, start: str, type_code: str | None = None,
                    status: str = "finished") -> None:
    body: dict[str, Any] = {
        "resourceType": "Encounter", "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"}, "period": {"start": start}}
    if type_code:
        body["type"] = [{"coding": [{"system": SNOMED, "code": type_code}]}]
    r = await h.client.post("/api/fhir/Encounter", json=body, headers=h.auth("clinician"))
    assert r.status_code == 201, r.text


async def weight(h: Harness, patient: str, when: str, value: float, unit: str = "g",
                 status: str = "final") -> None:
    body = {"resourceType": "Observation", "status": status,
            "code": {"coding": [{"system": LOINC, "code": "8339-4"}]},
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit,
                              "system": "http://unitsofmeasure.org", "code": unit}}
    r = await h.client.post("/api/fhir/Observation", json=body, headers=h.auth("clinician"))
    assert r.status_code == 201, r.text


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str, fake: FakeDhis2) -> AsyncIterator[Harness]:
    """Kisumu, March 2026: ANC1 1 (a cancelled one and one in February left out); ANC4 1
    (the 4th visit since December; another woman's 2nd visit is not); 1 delivery (one in
    April left out); 3 births weighed (2300 g, 3.1 kg, 2.4 kg; an entered-in-error 2000 g
    left out), 2 low; 2 under-5 visits (a 4-year-old, a newborn; a 5-year-old and the
    mothers left out). Siaya: nothing."""
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await seed(h)

        async def patient(born: str, family: str) -> str:
            return str((await h.create_patient(organization_id="org-kisumu-crh",
                                               family=family, birth_date=born))["id"])

        m1, m2, m3 = [await patient("1995-05-01", f) for f in ("Akinyi", "Adhiambo", "Anyango")]
        for when, code in (("2025-12-01", INITIAL), ("2026-01-10", PRENATAL),
                           ("2026-02-10", ANTENATAL), ("2026-03-10T08:00:00Z", PRENATAL)):
            await encounter(h, m1, when, code)
        await encounter(h, m2, "2026-02-27", INITIAL)
        await encounter(h, m2, "2026-03-20", PRENATAL)
        await encounter(h, m3, "2026-03-03", INITIAL)
        await encounter(h, m3, "2026-03-04", INITIAL, status="cancelled")
        await encounter(h, m1, "2026-03-25T02:00:00Z", DELIVERY)
        await encounter(h, m2, "2026-04-02", DELIVERY)
        b1, b2, b3 = [await patient("2026-03-25", f"Baby{i}") for i in range(3)]
        await weight(h, b1, "2026-03-25", 2300)
        await weight(h, b2, "2026-03-26", 3.1, "kg")
        await weight(h, b3, "2026-03-27", 2.4, "kg")
        await weight(h, b3, "2026-03-27", 2000, status="entered-in-error")
        await encounter(h, b1, "2026-03-28")
        four, five = await patient("2021-03-15", "Four"), await patient("2021-03-01", "Five")
        await encounter(h, four, "2026-03-10")
        await encounter(h, five, "2026-03-10")
        yield h


async def test_mch_indicators(seeded: Harness, fake: FakeDhis2) -> None:
    with count_queries(*seeded.engines) as counted:
        r = await seeded.client.get("/api/public-health/dhis2-export", params=MONTH,
                                    headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    assert len([s for s in counted.statements if "GROUP BY" in s.upper()]) == 1
    names = {uid: code for code, uid in MCH_ELEMENTS.items()}
    values = {(v["orgUnit"], names[v["dataElement"]]): v["value"]
              for v in r.json()["dataValues"]}
    assert {k[1]: v for k, v in values.items() if k[0] == KISUMU} == {
        "MCH_ANC1": "1", "MCH_ANC4": "1", "MCH_FACILITY_DELIVERIES": "1",
        "MCH_BIRTHS_WEIGHED": "3", "MCH_LBW": "2", "MCH_LBW_RATE": "66.7",
        "MCH_U5_VISITS": "2"}
    assert {k[1]: v for k, v in values.items() if k[0] == SIAYA} == {
        code: "0" for code in MCH_ELEMENTS if code != "MCH_LBW_RATE"}
    pushed = await seeded.client.post("/api/public-health/dhis2-push", json={
        "dhis2_url": fake.base_url, **MONTH, "org_unit": KISUMU},
        headers=seeded.auth("public_health"))
    assert pushed.status_code in (200, 201, 202), pushed.text
    done = await settled(seeded, pushed.json()["data"]["id"])
    assert done["state"] == "success" and done["summary"]["import_count"]["imported"] == 7
