"""GET /api/public-health/dhis2-export: malaria RDT indicators counted by the database from
lab Observations, as a DHIS2 dataValueSets document (JSON and CSV), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import (
    DEFAULT_COMBO,
    HOMABAY,
    KISUMU,
    POSITIVE,
    POSITIVITY,
    SIAYA,
    TESTED,
    dhis2_gateway,
    seed,
    stand_in,
)
from tests.support import Harness, count_queries

pytestmark = pytest.mark.db
URL = "/api/public-health/dhis2-export"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str, fake: FakeDhis2) -> AsyncIterator[Harness]:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await seed(h)
        yield h


def _by_unit(doc: dict[str, object]) -> dict[tuple[str, str], str]:
    rows = doc["dataValues"]
    assert isinstance(rows, list)
    return {(r["orgUnit"], r["dataElement"]): r["value"] for r in rows}


async def test_known_answers_for_one_week(seeded: Harness) -> None:
    with count_queries(*seeded.engines) as counted:
        r = await seeded.client.get(URL, params={"dataset": "malaria_rdt", "period": "2026W10"},
                                    headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert (doc["dataSet"], doc["period"]) == ("MalRdtWk001", "2026W10")
    assert "orgUnit" not in doc  # three org units: each value names its own
    assert _by_unit(doc) == {
        (KISUMU, TESTED): "5", (KISUMU, POSITIVE): "3", (KISUMU, POSITIVITY): "60.0",
        (SIAYA, TESTED): "2", (SIAYA, POSITIVE): "0", (SIAYA, POSITIVITY): "0.0",
        (HOMABAY, TESTED): "0", (HOMABAY, POSITIVE): "0"}  # no rate without a denominator
    assert all(v["categoryOptionCombo"] == DEFAULT_COMBO and v["period"] == "2026W10"
               for v in doc["dataValues"])
    aggregate = [s for s in counted.statements if "GROUP BY" in s.upper()]
    assert len(aggregate) == 1  # one GROUP BY answers every facility


async def test_one_org_unit_and_a_month(seeded: Harness) -> None:
    r = await seeded.client.get(URL, params={"dataset": "MalRdtMo001", "period": "202603",
                                             "org_unit": KISUMU},
                                headers=seeded.auth("admin"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["dataSet"], doc["period"], doc["orgUnit"]) == ("MalRdtMo001", "202603", KISUMU)
    # March holds the W11 test too (6 done, 4 positive); the monthly set has no rate.
    assert _by_unit(doc) == {(KISUMU, TESTED): "6", (KISUMU, POSITIVE): "4"}


async def test_csv(seeded: Harness) -> None:
    r = await seeded.client.get(URL, params={"dataset": "malaria_rdt", "period": "2026W10",
                                             "org_unit": SIAYA},
                                headers={**seeded.auth("public_health"), "Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["dataelement", "period", "orgunit", "categoryoptioncombo",
                       "attributeoptioncombo", "value"]
    assert sorted(rows[1:]) == sorted([[TESTED, "2026W10", SIAYA, DEFAULT_COMBO, "", "2"],
                                       [POSITIVE, "2026W10", SIAYA, DEFAULT_COMBO, "", "0"],
                                       [POSITIVITY, "2026W10", SIAYA, DEFAULT_COMBO, "", "0.0"]])


async def test_without_parameters_the_last_complete_period_of_each_data_set(
        seeded: Harness) -> None:
    r = await seeded.client.get(URL, headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert "dataSet" not in doc  # two data sets in one document
    periods = {v["period"] for v in doc["dataValues"]}
    assert len(periods) == 2 and any("W" in p for p in periods)
    assert {v["orgUnit"] for v in doc["dataValues"]} == {KISUMU, SIAYA, HOMABAY}


async def test_refusals_and_the_audit_trail(seeded: Harness) -> None:
    auth = seeded.auth("public_health")
    for params, field in (({"dataset": "nope"}, "dataset"),
                          ({"dataset": "malaria_rdt", "period": "202603"}, "period"),
                          ({"dataset": "malaria_rdt", "period": "2026X1"}, "period"),
                          ({"org_unit": "Unmapped001"}, "org_unit")):
        r = await seeded.client.get(URL, params=params, headers=auth)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["details"][0]["field"] == field
    r = await seeded.client.get(URL, headers=seeded.auth("clinician"))
    assert r.status_code == 403
    await seeded.client.get(URL, params={"dataset": "malaria_rdt", "period": "2026W10"},
                            headers=seeded.auth("public_health", sub="moh-analyst"))
    audit = await seeded.client.get("/api/admin/audit-events",
                                    params={"subject": "moh-analyst"},
                                    headers=seeded.auth("admin"))
    (record,) = audit.json()["data"]["items"]
    assert (record["resource_type"], record["resource_id"], record["action"]) == (
        "Dhis2Export", "malaria_rdt|2026W10|*", "E")
    assert record["patient_id"] is None


async def test_a_result_arriving_by_hl7_is_counted(seeded: Harness) -> None:
    await seeded.create_patient(
        organization_id="org-kisumu-crh", family="Odhiambo", given=["Akinyi"],
        identifiers=[{"system": "urn:cari:lab:KISUMU_LAB:patient-id", "value": "RDT001"}])
    message = "\r".join([
        "MSH|^~\\&|LIS|KISUMU_LAB|CARI|CARI|20260306120000||ORU^R01|RDT-MSG-1|P|2.5",
        "PID|1||RDT001||ODHIAMBO^AKINYI||19950101|F",
        "OBR|1||ORD-RDT-1|70569-9^Malaria RDT^LN|||20260306110000",
        "OBX|1|CWE|70569-9^P falciparum+vivax Ag^LN||10828004^Positive^SCT||||||F"]) + "\r"
    r = await seeded.client.post("/api/lab/hl7-ingest", content=message,
                                 headers={**seeded.auth("lab"), "Content-Type": "text/plain"})
    assert r.status_code in (200, 201) and r.json()["data"]["patient_matched"], r.text
    r = await seeded.client.get(URL, params={"dataset": "malaria_rdt", "period": "2026W10",
                                             "org_unit": KISUMU},
                                headers=seeded.auth("public_health"))
    assert _by_unit(r.json()) == {(KISUMU, TESTED): "6", (KISUMU, POSITIVE): "4",
                                  (KISUMU, POSITIVITY): "66.7"}
