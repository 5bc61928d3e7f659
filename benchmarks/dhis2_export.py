"""dhis2_export: one quarter's DHIS2 export for 1,000 facilities over 1M Observations
(PostgreSQL, seeded in bulk by SQL).

In-process (like fhir_validate): the whole app on a fresh PostgreSQL database, called over
ASGI, so what is measured is the route, the use case and the database, not a socket. The
store is seeded by INSERT ... SELECT over generate_series: ``--facilities`` Organizations,
20 patients each, ``--observations`` malaria RDT Observations (LOINC 70569-9, 30% coded
positive) spread evenly over 2025-07-01..2026-06-30 with the search-index rows the gateway
extracts for them (code, date, patient, subject, status), then ANALYZE. A mapping with one
org unit per facility and a quarterly data set is written for the run.

Measured: ``GET /api/public-health/dhis2-export?dataset=malaria_rdt_quarterly&period=2026Q1``
(all facilities) three times: wall time of each, SQL statements issued, and the peak of
Python memory allocated during the call (tracemalloc). The answer is checked: the tests done
it reports add up to the Observations dated in the quarter, counted separately.

    .venv/bin/python -m benchmarks.dhis2_export [--observations 1000000] [--facilities 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import text

from adapters.settings import load_settings
from benchmarks._support import Options, write_result
from tests.support import count_queries, fresh_postgres_database, make_settings, running_app

TESTED = "hfdmMSPBgLG"
PERIOD = "2026Q1"

_SEED = [
    """INSERT INTO organizations (id, name, identifiers, version, created_at, updated_at)
       SELECT 'bench-f' || n, 'Facility ' || n, '[]'::jsonb, 1, now(), now()
       FROM generate_series(0, :facilities - 1) AS n""",
    """INSERT INTO patients (id, family, given, gender, organization_id, version, created_at,
                            updated_at)
       SELECT 'bench-p' || n, 'Bench', '[]'::jsonb, 'female', 'bench-f' || (n % :facilities),
              1, now(), now()
       FROM generate_series(0, :patients - 1) AS n""",
    """INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, deleted,
                                  sort_date, document)
       SELECT 'Observation', 'bench-o' || n, 1, now(), false, ts, jsonb_build_object(
         'resourceType', 'Observation', 'id', 'bench-o' || n, 'status', 'final',
         'code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
           'system', 'http://loinc.org', 'code', '70569-9'))),
         'subject', jsonb_build_object('reference', 'Patient/bench-p' || (n % :patients)),
         'effectiveDateTime', to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'valueCodeableConcept', jsonb_build_object('coding', jsonb_build_array(
           jsonb_build_object('system', 'http://snomed.info/sct', 'code',
             CASE WHEN n % 10 < 3 THEN '10828004' ELSE '260385009' END))))
       FROM (SELECT n, timestamptz '2025-07-01' + n * (interval '365 days' / :observations)
             AS ts FROM generate_series(0, :observations - 1) AS n) AS g""",
    """INSERT INTO fhir_search_index (resource_type, resource_id, param, system, value,
                                     date_lo, date_hi)
       SELECT 'Observation', 'bench-o' || n, p.param, p.system,
              CASE WHEN p.param IN ('patient', 'subject')
                   THEN 'Patient/bench-p' || (n % :patients) ELSE p.value END,
              CASE WHEN p.param = 'date' THEN ts END,
              CASE WHEN p.param = 'date' THEN ts + interval '1 second' END
       FROM (SELECT n, timestamptz '2025-07-01' + n * (interval '365 days' / :observations)
             AS ts FROM generate_series(0, :observations - 1) AS n) AS g
       CROSS JOIN (VALUES ('patient', NULL, NULL), ('subject', NULL, NULL),
                          ('code', 'http://loinc.org', '70569-9'), ('status', NULL, 'final'),
                          ('date', NULL, NULL)) AS p(param, system, value)""",
]


def _mapping(path: Path, facilities: int) -> None:
    path.write_text(json.dumps({
        "country": "KE",
        "indicators": {"MAL_RDT_TESTED": {"dataElement": TESTED},
                       "MAL_RDT_POSITIVE": {"dataElement": "vq2qO3eTrNi"},
                       "MAL_RDT_POSITIVITY": {"dataElement": "pRtVtyRt01a"}},
        "dataSets": {"malaria_rdt_quarterly": {
            "uid": "MalRdtQt001", "periodType": "Quarterly",
            "indicators": ["MAL_RDT_TESTED", "MAL_RDT_POSITIVE", "MAL_RDT_POSITIVITY"]}},
        "orgUnits": {f"bench-f{i}": f"F{i:010d}" for i in range(facilities)}}))


async def measure(observations: int, facilities: int) -> dict[str, Any]:
    with TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "mapping.json"
        _mapping(mapping, facilities)
        dhis2 = load_settings({"CARI_DHIS2_MAPPING": str(mapping)}).dhis2
        async with fresh_postgres_database() as url:
            settings = replace(make_settings(Path(tmp) / "var", url), dhis2=dhis2,
                               outbox_worker=False)
            async with running_app(settings) as h:
                started = time.perf_counter()
                params = {"facilities": facilities, "patients": facilities * 20,
                          "observations": observations}
                async with h.engine.begin() as conn:
                    for statement in _SEED:
                        await conn.execute(text(statement), params)
                async with h.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(text("ANALYZE"))
                    in_quarter = (await conn.execute(text(
                        "SELECT count(*) FROM fhir_search_index WHERE param = 'date' AND "
                        "date_lo >= '2026-01-01' AND date_lo < '2026-04-01'"))).scalar_one()
                seeded = time.perf_counter() - started
                print(f"seeded {observations:,} Observations for {facilities:,} facilities "
                      f"in {seeded:.1f} s ({in_quarter:,} in {PERIOD})")
                runs = []
                auth = h.auth("public_health")
                for _ in range(3):
                    tracemalloc.start()
                    with count_queries(*h.engines) as counted:
                        t0 = time.perf_counter()
                        r = await h.client.get("/api/public-health/dhis2-export", params={
                            "dataset": "malaria_rdt_quarterly", "period": PERIOD},
                            headers=auth)
                        elapsed = time.perf_counter() - t0
                    _current, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    assert r.status_code == 200, r.text
                    values = r.json()["dataValues"]
                    tested = sum(int(v["value"]) for v in values if v["dataElement"] == TESTED)
                    assert tested == in_quarter, (tested, in_quarter)
                    runs.append({"seconds": round(elapsed, 3), "statements": counted.count,
                                 "peak_python_mb": round(peak / 2**20, 1),
                                 "data_values": len(values),
                                 "statement_heads": [" ".join(q.split())[:60]
                                                     for q in counted.statements]})
                    print(f"export {PERIOD}: {elapsed * 1000:.0f} ms, {counted.count} SQL "
                          f"statements, peak Python memory {peak / 2**20:.1f} MB, "
                          f"{len(values):,} data values")
                    for q in counted.statements:
                        print("   ", " ".join(q.split())[:100])
    return {"observations": observations, "facilities": facilities,
            "observations_in_quarter": in_quarter, "seed_seconds": round(seeded, 1),
            "runs": runs}


NAME = "dhis2_export"


def run(options: Options) -> dict[str, Any]:
    """For ``python -m benchmarks dhis2_export``: the default sizes (needs PostgreSQL)."""
    result = asyncio.run(measure(1_000_000, 1000))
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{result['facilities']:,} facilities, {result['observations']:,} "
             f"Observations, {PERIOD} [postgresql]",
             f"{r['seconds'] * 1000:.0f} ms, {r['statements']} statements, peak "
             f"{r['peak_python_mb']} MB"] for r in result["runs"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=1000)
    args = parser.parse_args()
    write_result(NAME, asyncio.run(measure(args.observations, args.facilities)))


if __name__ == "__main__":
    main()
