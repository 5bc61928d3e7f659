"""Use case 1: IDSR weekly cases by ICD-10 group, age band at onset and sex, counted by the
database from Conditions, exported and pushed (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import (
    AGE_SEX,
    IDSR_ELEMENTS,
    KISUMU,
    SIAYA,
    dhis2_gateway,
    seed,
    settled,
    stand_in,
)
from tests.support import Harness

pytestmark = pytest.mark.db
ICD10 = "http://hl7.org/fhir/sid/icd-10"
WEEK = {"dataset": "idsr_weekly", "period": "2026W10"}


async def _condition(h: Harness, patient: str, icd10: str, onset: str,
                     verification: str = "confirmed") -> None:
    r = await h.client.post("/api/fhir/Condition", json={
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                       "condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                           "condition-ver-status", "code": verification}]},
        "code": {"coding": [{"system": ICD10, "code": icd10}]},
        "subject": {"reference": f"Patient/{patient}"}, "onsetDateTime": onset},
        headers=h.auth("clinician"))
    assert r.status_code == 201, r.text


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str, fake: FakeDhis2) -> AsyncIterator[Harness]:
    """Kisumu, 2026W10: a girl of 2 with malaria twice (B50.9, B54); a boy the day before his
    fifth birthday with cholera (A00.1); a woman of 35 with measles (B05.9); a patient of
    unknown sex and age with TB (A15.0). Not counted: a refuted malaria, a malaria in W11,
    a pneumonia (J18.9). Siaya: nothing."""
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await seed(h)
        org = "org-kisumu-crh"
        girl = (await h.create_patient(organization_id=org, family="Akinyi",
                                       birth_date="2023-05-01", gender="female"))["id"]
        boy = (await h.create_patient(organization_id=org, family="Otieno",
                                      birth_date="2021-03-05", gender="male"))["id"]
        woman = (await h.create_patient(organization_id=org, family="Adhiambo",
                                        birth_date="1990-07-12", gender="female"))["id"]
        unknown = (await h.create_patient(organization_id=org, family="Unknown"))["id"]
        await _condition(h, girl, "B50.9", "2026-03-03T09:00:00Z")
        await _condition(h, girl, "B54", "2026-03-08")
        await _condition(h, boy, "A00.1", "2026-03-04T12:00:00Z")
        await _condition(h, woman, "B05.9", "2026-03-02")
        await _condition(h, unknown, "A15.0", "2026-03-05")
        await _condition(h, woman, "B50.9", "2026-03-03", verification="refuted")
        await _condition(h, boy, "B50.9", "2026-03-10")
        await _condition(h, woman, "J18.9", "2026-03-03")
        yield h


def _values(doc: dict[str, Any], unit: str) -> dict[tuple[str, str], str]:
    names = {uid: code for code, uid in IDSR_ELEMENTS.items()}
    combos = {uid: key for key, uid in AGE_SEX.items()}
    return {(names[v["dataElement"]], combos[v["categoryOptionCombo"]]): v["value"]
            for v in doc["dataValues"] if v["orgUnit"] == unit}


async def test_known_cases_by_group_age_band_and_sex(seeded: Harness) -> None:
    r = await seeded.client.get("/api/public-health/dhis2-export", params=WEEK,
                                headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["dataSet"] == "IdsrWeekly1"
    kisumu = _values(doc, KISUMU)
    assert len(kisumu) == 6 * 7  # every group, band and sex, zeros included
    assert {k: v for k, v in kisumu.items() if v != "0"} == {
        ("IDSR_MALARIA", "0-4|female"): "2", ("IDSR_CHOLERA", "0-4|male"): "1",
        ("IDSR_MEASLES", "15+|female"): "1", ("IDSR_TB", "unknown"): "1"}
    assert set(_values(doc, SIAYA).values()) == {"0"}


async def test_pushed_to_dhis2(seeded: Harness, fake: FakeDhis2) -> None:
    r = await seeded.client.post("/api/public-health/dhis2-push", json={
        "dhis2_url": fake.base_url, **WEEK, "org_unit": KISUMU},
        headers=seeded.auth("public_health"))
    assert r.status_code == 202, r.text
    done = await settled(seeded, r.json()["data"]["id"])
    assert done["state"] == "success", done
    assert done["summary"]["import_count"]["imported"] == 42
    key = (IDSR_ELEMENTS["IDSR_MALARIA"], "2026W10", KISUMU, AGE_SEX["0-4|female"],
           "HllvX50cXC0")
    assert fake.values[key] == "2"
