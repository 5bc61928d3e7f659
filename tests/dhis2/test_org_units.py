"""The org unit import: DHIS2's hierarchy (region, district, facility) into Organizations,
with part_of and the UID as an identifier, idempotent; the feeds then sum by DHIS2's tree
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import HOMABAY, KISUMU, SIAYA, dhis2_gateway, seed, stand_in
from tests.support import Harness

pytestmark = pytest.mark.db
IMPORT = "/api/public-health/dhis2/org-units/import"
TREE = {"NyanzaReg01": {"name": "Nyanza", "level": 1},
        "KsmCounty01": {"name": "Kisumu County", "level": 2, "parent": {"id": "NyanzaReg01"}},
        "SiyCounty01": {"name": "Siaya County", "level": 2, "parent": {"id": "NyanzaReg01"}},
        KISUMU: {"name": "Jaramogi Oginga Odinga TRH", "level": 3,
                 "parent": {"id": "KsmCounty01"}},
        SIAYA: {"name": "Siaya CRH", "level": 3, "parent": {"id": "SiyCounty01"}},
        HOMABAY: {"name": "Homa Bay CRH", "level": 3}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    running: FakeDhis2
    async with serving(stand_in()) as running:
        running.org_units.clear()
        running.org_units.update(TREE)
        yield running


@pytest.fixture
async def gateway(tmp_path: Path, database_url: str, fake: FakeDhis2) -> AsyncIterator[Harness]:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await seed(h)  # the three mapped facilities and March's malaria RDTs
        yield h


async def test_import_builds_the_tree_idempotently(gateway: Harness, fake: FakeDhis2) -> None:
    auth = gateway.auth("public_health")
    r = await gateway.client.post(IMPORT, params={"dhis2_url": fake.base_url}, headers=auth)
    assert r.status_code == 200, r.text
    report = r.json()["data"]
    assert (report["created"], report["updated"], report["unchanged"]) == (3, 3, 0)
    units = {u["uid"]: u for u in report["units"]}
    assert units["NyanzaReg01"] | {"outcome": None} == {
        "uid": "NyanzaReg01", "organization_id": "dhis2-NyanzaReg01", "name": "Nyanza",
        "kind": "region", "part_of": None, "outcome": None}
    assert (units["KsmCounty01"]["kind"], units["KsmCounty01"]["part_of"]) == (
        "district", "dhis2-NyanzaReg01")
    assert units[KISUMU] | {"name": ""} == {
        "uid": KISUMU, "organization_id": "org-kisumu-crh", "name": "", "kind": "facility",
        "part_of": "dhis2-KsmCounty01", "outcome": "updated"}
    assert units[HOMABAY]["part_of"] is None
    method, path, _h, _b = fake.requests[-1]
    assert (method, path) == ("GET", "/api/organisationUnits")

    org = (await gateway.client.get("/api/fhir/Organization/org-kisumu-crh",
                                    headers=gateway.auth("integrator"))).json()
    assert org["partOf"] == {"reference": "Organization/dhis2-KsmCounty01"}
    assert {"system": f"{fake.base_url}/api/organisationUnits", "value": KISUMU} in (
        org["identifier"])
    again = (await gateway.client.post(IMPORT, headers=auth)).json()["data"]
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 6)

    # The feeds now sum by DHIS2's tree: Nyanza is Kisumu (6 tests) and Siaya (2).
    series = await gateway.client.get(
        "/api/public-health/indicators/MAL_RDT_TESTED/series",
        params={"org_unit": "dhis2-NyanzaReg01", "from": "2026-03-01", "to": "2026-03-31"},
        headers=auth)
    assert [p["value"] for p in series.json()["data"]["points"]] == [8]
    national = await gateway.client.get("/api/public-health/national-dataset", params={
        "period": "202603", "level": "district"}, headers=auth)
    assert national.status_code == 200, national.text
    rows = {row["unit"] for t in national.json()["data"]["tables"] for row in t["rows"]}
    assert {"dhis2-KsmCounty01", "dhis2-SiyCounty01"} <= rows


async def test_refusals(gateway: Harness, fake: FakeDhis2) -> None:
    auth = gateway.auth("public_health")
    r = await gateway.client.post(IMPORT, params={"dhis2_url": "https://elsewhere.example"},
                                  headers=auth)
    assert r.status_code == 422
    assert (await gateway.client.post(IMPORT, headers=gateway.auth("clinician"))
            ).status_code == 403
    fake.fail("/api/organisationUnits", 500)
    assert (await gateway.client.post(IMPORT, headers=auth)).status_code == 502
