"""GET /api/public-health/national-dataset: counts by facility, district and region from the
directory's hierarchy, small cells suppressed with complementary suppression, each with its
reason; no identifiers, dates coarsened to the period (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import coded, dhis2_gateway, rdt, stand_in
from tests.support import Harness

pytestmark = pytest.mark.db
URL = "/api/public-health/national-dataset"
POSITIVE, NEGATIVE = coded("10828004"), coded("260385009")


async def _org(h: Harness, org_id: str, parent: str | None = None) -> None:
    body: dict[str, Any] = {"resourceType": "Organization", "id": org_id, "name": f"{org_id} name"}
    if parent:
        body["partOf"] = {"reference": f"Organization/{parent}"}
    r = await h.client.put(f"/api/fhir/Organization/{org_id}", json=body,
                           headers=h.auth("integrator"))
    assert r.status_code in (200, 201), r.text


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """Region nyanza > districts d1 (facilities fa, fb) and d2 (facility fc), March 2026:
    fa 6 positive 5 negative; fb 1 positive 9 negative; fc 5 positive 5 negative."""
    fake: FakeDhis2
    async with serving(stand_in()) as fake, dhis2_gateway(tmp_path, database_url, fake) as h:
        await _org(h, "nyanza")
        await _org(h, "d1", "nyanza")
        await _org(h, "d2", "nyanza")
        for facility, district, positive, negative in (("fa", "d1", 6, 5), ("fb", "d1", 1, 9),
                                                       ("fc", "d2", 5, 5)):
            await _org(h, facility, district)
            patient = (await h.create_patient(organization_id=facility))["id"]
            for n in range(positive + negative):
                await rdt(h, patient, f"2026-03-{1 + n % 28:02d}T10:00:00Z",
                          **(POSITIVE if n < positive else NEGATIVE))
        yield h


def _table(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in body["data"]["tables"] if t["name"] == name)


async def test_facility_level_small_cells_and_their_complements(seeded: Harness) -> None:
    r = await seeded.client.get(URL, params={"period": "202603"},
                                headers=seeded.auth("public_health"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body["data"][k] for k in ("period", "start", "end", "level", "threshold")} == {
        "period": "202603", "start": "2026-03-01", "end": "2026-04-01", "level": "facility",
        "threshold": 5}
    table = _table(body, "malaria_rdt")
    assert table["columns"] == ["positive", "negative"]
    # fb's 1 positive is below 5; suppressing it alone would leave it in fb's total and the
    # column total, so complements follow until no row or column holds a single one.
    reasons = {(s["unit"], s["column"]): s["reason"] for s in table["suppressed"]}
    assert reasons[("fb", "positive")] == "primary"
    assert set(reasons) == {(u, c) for u in ("fa", "fb", "fc") for c in ("positive", "negative")}
    assert all(v == "complementary" for k, v in reasons.items() if k != ("fb", "positive"))
    assert {row["unit"]: (row["cells"], row["total"]) for row in table["rows"]} == {
        "fa": ({"positive": None, "negative": None}, 11),
        "fb": ({"positive": None, "negative": None}, 10),
        "fc": ({"positive": None, "negative": None}, 10)}
    assert table["column_totals"] == {"positive": 12, "negative": 19}
    assert {row["name"] for row in table["rows"]} == {"fa name", "fb name", "fc name"}


async def test_district_and_region_roll_up_nothing_small(seeded: Harness) -> None:
    auth = seeded.auth("public_health")
    district = _table((await seeded.client.get(URL, params={
        "period": "202603", "level": "district"}, headers=auth)).json(), "malaria_rdt")
    assert {row["unit"]: row["cells"] for row in district["rows"]} == {
        "d1": {"positive": 7, "negative": 14}, "d2": {"positive": 5, "negative": 5}}
    assert district["suppressed"] == []
    region = _table((await seeded.client.get(URL, params={
        "period": "2026Q1", "level": "region"}, headers=auth)).json(), "malaria_rdt")
    assert [(row["unit"], row["cells"], row["total"]) for row in region["rows"]] == [
        ("nyanza", {"positive": 12, "negative": 19}, 31)]


async def test_refusals(seeded: Harness) -> None:
    for params in ({"level": "ward"}, {"level": ""}, {"period": "March"}):
        r = await seeded.client.get(URL, params=params, headers=seeded.auth("public_health"))
        assert r.status_code == 422, r.text
    assert (await seeded.client.get(URL, headers=seeded.auth("clinician"))).status_code == 403
