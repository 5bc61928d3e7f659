"""Use case 6: dashboard feeds. An indicator as a JSON time series (strong ETag,
Cache-Control, 304) and as a FHIR MeasureReport valid against the project's validator; a
district sums its facilities (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.fhir.validator import FhirValidator
from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import KISUMU, dhis2_gateway, seed, stand_in
from tests.support import Harness

pytestmark = pytest.mark.db
SERIES = "/api/public-health/indicators/{}/series"
REPORT = "/api/public-health/indicators/{}/measure-report"
Q1 = {"from": "2026-01-01", "to": "2026-04-30"}


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """The malaria RDT data set (tests/dhis2/support.py): March 2026, Kisumu 6 tests (5 in
    W10, 1 in W11), 4 positive; Siaya 2 tests, none positive. Kisumu's hospital is in the
    district org-district-kisumu."""
    async with serving(stand_in()) as fake:
        fake_: FakeDhis2 = fake
        async with dhis2_gateway(tmp_path, database_url, fake_) as h:
            await seed(h)
            for org, parent in (("org-district-kisumu", None),
                                ("org-kisumu-crh", "org-district-kisumu")):
                body = {"resourceType": "Organization", "id": org, "name": org}
                if parent:
                    body["partOf"] = {"reference": f"Organization/{parent}"}
                r = await h.client.put(f"/api/fhir/Organization/{org}", json=body,
                                       headers=h.auth("integrator"))
                assert r.status_code in (200, 201), r.text
            yield h


def _values(body: dict[str, object]) -> dict[str, object]:
    data = body["data"]
    assert isinstance(data, dict)
    return {p["period"]: p["value"] for p in data["points"]}


async def test_series_counts_rates_and_caching(seeded: Harness) -> None:
    auth = seeded.auth("public_health")
    r = await seeded.client.get(SERIES.format("MAL_RDT_TESTED"),
                                params={**Q1, "org_unit": KISUMU}, headers=auth)
    assert r.status_code == 200, r.text
    assert _values(r.json()) == {"202601": 0, "202602": 0, "202603": 6, "202604": 0}
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "max-age" in r.headers["cache-control"]
    again = await seeded.client.get(SERIES.format("MAL_RDT_TESTED"), params={
        **Q1, "org_unit": KISUMU}, headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    other = await seeded.client.get(SERIES.format("MAL_RDT_TESTED"), params=Q1,
                                    headers={**auth, "If-None-Match": etag})
    assert other.status_code == 200 and _values(other.json())["202603"] == 8
    rate = await seeded.client.get(SERIES.format("MAL_RDT_POSITIVITY"), params=Q1,
                                   headers=auth)
    assert _values(rate.json()) == {"202601": None, "202602": None, "202603": 50.0,
                                    "202604": None}
    weekly = await seeded.client.get(SERIES.format("MAL_RDT_POSITIVE"), params={
        "from": "2026-03-02", "to": "2026-03-15", "period_type": "Weekly",
        "org_unit": "org-district-kisumu"}, headers=auth)
    assert _values(weekly.json()) == {"2026W10": 3, "2026W11": 1}


async def test_measure_report_is_valid_fhir(seeded: Harness) -> None:
    r = await seeded.client.get(REPORT.format("MAL_RDT_POSITIVITY"), params={
        "period": "202603", "org_unit": "org-district-kisumu"},
        headers=seeded.auth("admin"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    report = r.json()
    assert FhirValidator().validate(report) == []
    assert report["period"] == {"start": "2026-03-01", "end": "2026-03-31"}
    group = report["group"][0]
    assert [p["count"] for p in group["population"]] == [4, 6]
    assert group["measureScore"]["value"] == 66.7
    assert report["reporter"]["reference"] == "Organization/org-district-kisumu"


async def test_roles_and_refusals(seeded: Harness) -> None:
    r = await seeded.client.get(SERIES.format("MAL_RDT_TESTED"),
                                headers=seeded.auth("clinician"))
    assert r.status_code == 403
    auth = seeded.auth("public_health")
    assert (await seeded.client.get(SERIES.format("NOPE"), headers=auth)).status_code == 404
    for code, params in (("IMM_PENTA3_COVERAGE", {}), ("MAL_RDT_TESTED", {"org_unit": "x"}),
                         ("MAL_RDT_TESTED", {"period_type": "Daily"}),
                         ("MAL_RDT_TESTED", {"from": "2026-05-01", "to": "2026-01-01"}),
                         ("MAL_RDT_TESTED", {"from": "2000-01-01", "to": "2026-01-01"})):
        r = await seeded.client.get(SERIES.format(code), params=params, headers=auth)
        assert r.status_code == 422, (code, params, r.text)
    r = await seeded.client.get(REPORT.format("MAL_RDT_TESTED"), params={"period": "nope"},
                                headers=auth)
    assert r.status_code == 422
