"""read_scaling: does a growing database slow patient reads down? (PostgreSQL)

One gateway on a fresh PostgreSQL database. The patients the reads ask for are created
through the API (benchmarks/read_scenarios.py: one patient with 30 laboratory Observations
from HL7 ingest); the rest of the store is seeded in bulk by SQL (INSERT ... SELECT over
generate_series: current documents plus the search-index rows the gateway extracts for a
laboratory Observation: patient, subject, code, category, status, date), spread over 20,000
other patients. The same reads are measured with wrk at each size, growing the same database
from the small size to the large one, and reported with their ratio (large / small req/s):
    * REST ``GET /api/patients/{id}``
    * REST ``GET /api/patients/{id}/lab-results`` (a category + patient search, newest first)
    * FHIR ``GET /api/fhir/Observation?patient=…&_count=20``
Version history rows are not seeded: no measured read touches them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks._loadgen import run_load
from benchmarks._support import ROOT, Options, ms, running_gateway, scratch_dir, write_result
from benchmarks.http_throughput import _postgres_problem, _tool, fresh_postgres_database
from benchmarks.read_scenarios import READ_SCENARIOS, read_fixtures
from benchmarks.scenarios import fixtures as scenario_fixtures

NAME = "read_scaling"
SIZES = (10_000, 1_000_000)
OTHER_PATIENTS = 20_000
READS = ("rest_patient", "rest_lab_results", "fhir_observation_search")
TITLES = {"rest_patient": "REST patient", "rest_lab_results": "REST lab-results",
          "fhir_observation_search": "FHIR Observation?_count=20"}

_RESOURCES = """
INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, deleted, sort_date,
                            document)
SELECT 'Observation', 'bulk-' || n, 1, now(), false, ts,
       jsonb_build_object(
         'resourceType', 'Observation', 'id', 'bulk-' || n, 'status', 'final',
         'category', jsonb_build_array(jsonb_build_object('coding', jsonb_build_array(
           jsonb_build_object('system',
             'http://terminology.hl7.org/CodeSystem/observation-category',
             'code', 'laboratory')))),
         'code', jsonb_build_object('coding', jsonb_build_array(
           jsonb_build_object('system', 'http://loinc.org', 'code', '2823-3'))),
         'subject', jsonb_build_object('reference', 'Patient/bulk-p' || (n % :patients)),
         'effectiveDateTime', to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'valueQuantity', jsonb_build_object('value', 4.1, 'unit', 'mmol/L'))
FROM (SELECT n, timestamptz '2020-01-01' + n * interval '1 minute' AS ts
      FROM generate_series(:first, :last) AS n) AS g
"""

_INDEX = """
INSERT INTO fhir_search_index (resource_type, resource_id, param, system, value, date_lo,
                               date_hi)
SELECT 'Observation', 'bulk-' || n, p.param, p.system,
       CASE WHEN p.param IN ('patient', 'subject') THEN 'Patient/bulk-p' || (n % :patients)
            ELSE p.value END,
       CASE WHEN p.param = 'date' THEN ts END,
       CASE WHEN p.param = 'date' THEN ts + interval '1 second' END
FROM (SELECT n, timestamptz '2020-01-01' + n * interval '1 minute' AS ts
      FROM generate_series(:first, :last) AS n) AS g
CROSS JOIN (VALUES
  ('patient', NULL, NULL), ('subject', NULL, NULL),
  ('code', 'http://loinc.org', '2823-3'), ('status', NULL, 'final'),
  ('category', 'http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory'),
  ('date', NULL, NULL)) AS p(param, system, value)
"""


async def _seed(dsn: str, first: int, last: int) -> float:
    """Observations ``first``..``last`` in chunks (bounded transactions), then ANALYZE."""
    import asyncpg  # type: ignore[import-untyped]

    started = time.perf_counter()
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for start in range(first, last + 1, 100_000):
            end = min(last, start + 99_999)
            params = {"first": start, "last": end, "patients": OTHER_PATIENTS}
            for sql in (_RESOURCES, _INDEX):
                text = sql
                for key, value in params.items():
                    text = text.replace(f":{key}", str(int(value)))
                await conn.execute(text)
        await conn.execute("ANALYZE fhir_resources")
        await conn.execute("ANALYZE fhir_search_index")
    finally:
        await conn.close()
    return time.perf_counter() - started


def _measure(gateway: Any, fx: dict[str, str], options: Options, tool: str,
             size: int) -> list[dict[str, Any]]:
    out = []
    connections = options.connections[-1]
    for name in READS:
        request = READ_SCENARIOS[name](gateway, fx)  # checks the answer once
        if options.warmup > 0:
            run_load(request, tool=tool, connections=connections, duration=options.warmup)
        result = run_load(request, tool=tool, connections=connections,
                          duration=options.duration)
        lat = result["latency_s"]
        print(f"[{NAME}] {TITLES[name]:28} {size:>9,} Observations: "
              f"{result['requests_per_s']:7.0f} req/s  p50 {ms(lat['p50'])}  "
              f"p99 {ms(lat['p99'])}  ({result['error_count']} errors)")
        out.append({"scenario": name, "observations": size, "connections": connections,
                    **result})
    return out


def run(options: Options) -> dict[str, Any]:
    problem = _postgres_problem()
    if problem is not None:
        print(f"[{NAME}] skipped: PostgreSQL is not reachable ({problem})")
        return {"skipped": problem, "measurements": []}
    tool = _tool(options)
    measurements: list[dict[str, Any]] = []
    seeding: list[dict[str, Any]] = []
    with scratch_dir(NAME, options.keep) as scratch, fresh_postgres_database() as url, \
            running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                            CARI_LOG_LEVEL="WARNING") as gateway:
        fx = read_fixtures(gateway, scenario_fixtures(gateway))
        seeded = 0
        for size in SIZES:
            seconds = asyncio.run(_seed(url, seeded + 1, size))
            print(f"[{NAME}] seeded {size - seeded:,} Observations in bulk ({seconds:.0f} s)")
            seeding.append({"to": size, "seconds": round(seconds, 1)})
            seeded = size
            measurements += _measure(gateway, fx, options, tool, size)
    ratios = {}
    for name in READS:
        by_size = {m["observations"]: m["requests_per_s"] for m in measurements
                   if m["scenario"] == name}
        ratios[name] = round(by_size[SIZES[0]] / by_size[SIZES[-1]], 3)
        print(f"[{NAME}] {TITLES[name]:28} {SIZES[0]:,} vs {SIZES[-1]:,}: "
              f"{ratios[name]:.2f}x slower at the larger size (target <= 1.5x)")
    result = {"params": {"sizes": list(SIZES), "other_patients": OTHER_PATIENTS,
                         "duration_s": options.duration, "warmup_s": options.warmup,
                         "database": "postgresql"},
              "seeding": seeding, "measurements": measurements,
              "slowdown_large_over_small": ratios}
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path.relative_to(ROOT)}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    if result.get("skipped"):
        return [[NAME, "-", f"skipped: {result['skipped']}"]]
    out = []
    for name, ratio in result["slowdown_large_over_small"].items():
        figures = ", ".join(f"{m['observations']:,}: {m['requests_per_s']:.0f} req/s"
                            for m in result["measurements"] if m["scenario"] == name)
        out.append([NAME, TITLES[name], f"{figures} (slowdown {ratio:.2f}x)"])
    return out
