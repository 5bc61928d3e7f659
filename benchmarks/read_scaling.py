"""read_scaling: does a growing database slow patient reads down? (SQLite and PostgreSQL)

One gateway per database: the embedded SQLite default (CARI_DATABASE_URL unset, so
``<data dir>/cari.sqlite3``) and a fresh PostgreSQL database (skipped with
``--postgres skip``, or when unreachable unless ``--postgres require``). On each, the
patients the reads ask for are created through the API (benchmarks/read_scenarios.py: one
patient with 30 laboratory Observations from HL7 ingest); the rest of the store is seeded in
bulk by SQL (current documents plus the search-index rows the gateway extracts for a
laboratory Observation: patient, subject, code, category, status, date), spread over 20,000
other patients:
    * PostgreSQL: INSERT ... SELECT over generate_series, then ANALYZE;
    * SQLite: INSERT ... SELECT over a recursive CTE (WITH RECURSIVE), written by a separate
      sqlite3 connection in WAL mode, one transaction per 100,000 Observations so the
      running gateway is never locked out for long; the column formats (naive UTC text
      timestamps with microseconds, 0/1 booleans, JSON text) are checked against rows the
      gateway itself stored, and no ANALYZE (the gateway never runs one on SQLite).
After each seeding pass a FHIR search for one bulk patient must find its bulk Observations,
so the bulk rows are known to answer queries like the gateway's own. The same reads are
measured with wrk at each size, growing the same database from the small size to the large
one, and reported per database with their ratio (small / large req/s, the slowdown):
    * REST ``GET /api/patients/{id}``
    * REST ``GET /api/patients/{id}/lab-results`` (a category + patient search, newest first)
    * FHIR ``GET /api/fhir/Observation?patient=…&_count=20``
Version history rows are not seeded: no measured read touches them.

    python -m benchmarks read_scaling --duration 5 --warmup 2 [--postgres skip]
    python -m benchmarks.read_scaling --databases sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks._loadgen import run_load
from benchmarks._support import (
    ROOT,
    GatewayProcess,
    Options,
    ms,
    request,
    running_gateway,
    scratch_dir,
    write_result,
)
from benchmarks.http_throughput import _pg_admin_dsn, _postgres_problem, _tool, fresh_postgres_database
from benchmarks.read_scenarios import READ_SCENARIOS, read_fixtures
from benchmarks.scenarios import fixtures as scenario_fixtures

NAME = "read_scaling"
SIZES = (10_000, 1_000_000)
OTHER_PATIENTS = 20_000
CHUNK = 100_000
DATABASES = ("sqlite", "postgresql")
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

# The same rows on SQLite. Timestamps are naive UTC text with microseconds (as the gateway's
# UTCDateTime columns store them: '2026-01-15 08:25:00.000000'), booleans 0/1, documents JSON
# text; ``ts`` is unix seconds (2020-01-01T00:00:00Z = 1577836800).
_SQLITE_SERIES = """
WITH RECURSIVE g(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM g WHERE n < :last),
  o(n, ts) AS (SELECT n, 1577836800 + n * 60 FROM g)
"""
_SQLITE_STAMP = "strftime('%Y-%m-%d %H:%M:%S', {}, 'unixepoch') || '.000000'"

_SQLITE_RESOURCES = _SQLITE_SERIES + f"""
INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, deleted, sort_date,
                            document)
SELECT 'Observation', 'bulk-' || n, 1, :now, 0, {_SQLITE_STAMP.format('ts')},
       json_object(
         'resourceType', 'Observation', 'id', 'bulk-' || n, 'status', 'final',
         'category', json_array(json_object('coding', json_array(json_object('system',
           'http://terminology.hl7.org/CodeSystem/observation-category',
           'code', 'laboratory')))),
         'code', json_object('coding', json_array(
           json_object('system', 'http://loinc.org', 'code', '2823-3'))),
         'subject', json_object('reference', 'Patient/bulk-p' || (n % :patients)),
         'effectiveDateTime', strftime('%Y-%m-%dT%H:%M:%SZ', ts, 'unixepoch'),
         'valueQuantity', json_object('value', 4.1, 'unit', 'mmol/L'))
FROM o
"""

_SQLITE_INDEX = _SQLITE_SERIES + f""",
  p(param, system, value) AS (VALUES
    ('patient', NULL, NULL), ('subject', NULL, NULL),
    ('code', 'http://loinc.org', '2823-3'), ('status', NULL, 'final'),
    ('category', 'http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory'),
    ('date', NULL, NULL))
INSERT INTO fhir_search_index (resource_type, resource_id, param, system, value, date_lo,
                               date_hi)
SELECT 'Observation', 'bulk-' || n, p.param, p.system,
       CASE WHEN p.param IN ('patient', 'subject') THEN 'Patient/bulk-p' || (n % :patients)
            ELSE p.value END,
       CASE WHEN p.param = 'date' THEN {_SQLITE_STAMP.format('ts')} END,
       CASE WHEN p.param = 'date' THEN {_SQLITE_STAMP.format('ts + 1')} END
FROM o CROSS JOIN p
"""

# One Observation's row shapes (digits masked, SQLite storage classes), gateway-written
# (id NOT LIKE) or bulk (LIKE): they must be the same.
_SQLITE_SHAPES = """
SELECT r.version_id, typeof(r.version_id), r.last_updated, typeof(r.last_updated), r.deleted,
       typeof(r.deleted), r.sort_date, typeof(r.sort_date), typeof(r.document),
       json_valid(r.document), i.date_lo, typeof(i.date_lo), i.date_hi, typeof(i.date_hi),
       typeof(i.system), typeof(i.value)
FROM fhir_resources AS r JOIN fhir_search_index AS i
  ON i.resource_type = r.resource_type AND i.resource_id = r.id AND i.param = 'date'
WHERE r.resource_type = 'Observation' AND r.id {} 'bulk-%' LIMIT 1
"""


async def _seed_postgresql(url: str, first: int, last: int) -> None:
    """Observations ``first``..``last`` in chunks (bounded transactions), then ANALYZE."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for start in range(first, last + 1, CHUNK):
            params = {"first": start, "last": min(last, start + CHUNK - 1),
                      "patients": OTHER_PATIENTS}
            for sql in (_RESOURCES, _INDEX):
                text = sql
                for key, value in params.items():
                    text = text.replace(f":{key}", str(int(value)))
                await conn.execute(text)
        await conn.execute("ANALYZE fhir_resources")
        await conn.execute("ANALYZE fhir_search_index")
    finally:
        await conn.close()


def _shape(conn: sqlite3.Connection, op: str) -> tuple[str, ...]:
    row = conn.execute(_SQLITE_SHAPES.format(op)).fetchone()
    if row is None:
        raise RuntimeError(f"no Observation with a date index row (id {op} 'bulk-%')")
    return tuple(re.sub(r"\d", "9", str(v)) for v in row)


def _seed_sqlite(path: Path, first: int, last: int) -> None:
    """Observations ``first``..``last``, one write transaction per chunk, beside the gateway
    (which waits on its busy timeout meanwhile); then a WAL checkpoint."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for start in range(first, last + 1, CHUNK):
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            params = {"first": start, "last": min(last, start + CHUNK - 1),
                      "patients": OTHER_PATIENTS, "now": now}
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_SQLITE_RESOURCES, params)
                conn.execute(_SQLITE_INDEX, {k: v for k, v in params.items() if k != "now"})
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if start == first:  # as the gateway writes them, or the figures mean nothing
                gateway, bulk = _shape(conn, "NOT LIKE"), _shape(conn, "LIKE")
                if gateway != bulk:
                    raise RuntimeError(f"bulk rows differ from the gateway's: {bulk} vs "
                                       f"{gateway}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _check_bulk_visible(gateway: GatewayProcess, fx: dict[str, str], size: int) -> None:
    """A FHIR search for bulk patient 1 finds each of its seeded Observations."""
    expected = (size - 1) // OTHER_PATIENTS + 1  # n = 1, 20001, 40001, ... <= size
    path = "/api/fhir/Observation?patient=bulk-p1&_count=1"
    status, answer = request(gateway.port, "GET", path,
                             headers={"Authorization": f"Bearer {fx['clinician']}"})
    total = answer.get("total") if isinstance(answer, dict) else None
    if status != 200 or total != expected:
        raise RuntimeError(f"GET {path}: HTTP {status}, total {total} (expected {expected}): "
                           f"{str(answer)[:500]}")


def _measure(gateway: GatewayProcess, fx: dict[str, str], options: Options, tool: str,
             size: int, database: str) -> list[dict[str, Any]]:
    out = []
    connections = options.connections[-1]
    for name in READS:
        request_ = READ_SCENARIOS[name](gateway, fx)  # checks the answer once
        if options.warmup > 0:
            run_load(request_, tool=tool, connections=connections, duration=options.warmup)
        result = run_load(request_, tool=tool, connections=connections,
                          duration=options.duration)
        lat = result["latency_s"]
        print(f"[{NAME}] [{database:10}] {TITLES[name]:28} {size:>9,} Observations: "
              f"{result['requests_per_s']:7.0f} req/s  p50 {ms(lat['p50'])}  "
              f"p99 {ms(lat['p99'])}  ({result['error_count']} errors)")
        out.append({"scenario": name, "database": database, "observations": size,
                    "connections": connections, **result})
    return out


def _run_database(database: str, gateway: GatewayProcess, url: str | Path, options: Options,
                  tool: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    fx = read_fixtures(gateway, scenario_fixtures(gateway))
    measurements: list[dict[str, Any]] = []
    seeding: list[dict[str, Any]] = []
    seeded = 0
    for size in SIZES:
        started = time.perf_counter()
        if isinstance(url, Path):
            _seed_sqlite(url, seeded + 1, size)
        else:
            asyncio.run(_seed_postgresql(url, seeded + 1, size))
        seconds = time.perf_counter() - started
        print(f"[{NAME}] [{database:10}] seeded {size - seeded:,} Observations in bulk "
              f"({seconds:.0f} s)")
        seeding.append({"database": database, "to": size, "seconds": round(seconds, 1)})
        seeded = size
        _check_bulk_visible(gateway, fx, size)
        measurements += _measure(gateway, fx, options, tool, size, database)
    return measurements, seeding


def _databases(options: Options) -> list[str]:
    chosen = [d.strip() for d in str(options.extra.get("databases", ",".join(DATABASES)))
              .split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DATABASES]
    if unknown or not chosen:
        raise ValueError(f"databases: expected a comma list of {', '.join(DATABASES)}, "
                         f"got {chosen}")
    return [d for d in DATABASES if d in chosen]


def run(options: Options) -> dict[str, Any]:
    tool = _tool(options)
    measurements: list[dict[str, Any]] = []
    seeding: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    env = {"CARI_LOG_LEVEL": "WARNING"}
    databases = _databases(options)
    with scratch_dir(NAME, options.keep) as scratch:
        if "sqlite" in databases:
            with running_gateway(scratch / "sqlite", scratch, **env) as gateway:
                path = scratch / "sqlite" / "cari.sqlite3"  # the default for CARI_DATA_DIR
                if not path.is_file():
                    raise RuntimeError(f"the gateway's SQLite database is not at {path}")
                found = _run_database("sqlite", gateway, path, options, tool)
                measurements += found[0]
                seeding += found[1]
        problem = None
        if "postgresql" in databases:
            problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if "postgresql" in databases and problem is None:
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **env) as gateway:
                found = _run_database("postgresql", gateway, url, options, tool)
                measurements += found[0]
                seeding += found[1]
        elif problem is not None and options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        elif problem is not None:
            print(f"[{NAME}] PostgreSQL skipped: {problem}")
            skipped.append({"database": "postgresql", "reason": problem})
    by_database: dict[str, dict[str, float]] = {}
    for m in measurements:
        if m["observations"] != SIZES[-1]:
            continue
        small = next(s["requests_per_s"] for s in measurements if s["observations"] == SIZES[0]
                     and (s["scenario"], s["database"]) == (m["scenario"], m["database"]))
        ratio = round(small / m["requests_per_s"], 3)
        by_database.setdefault(m["database"], {})[m["scenario"]] = ratio
        print(f"[{NAME}] [{m['database']:10}] {TITLES[m['scenario']]:28} {SIZES[0]:,} vs "
              f"{SIZES[-1]:,}: {ratio:.2f}x slower at the larger size (target <= 1.5x)")
    result = {"params": {"sizes": list(SIZES), "other_patients": OTHER_PATIENTS,
                         "duration_s": options.duration, "warmup_s": options.warmup,
                         "databases": [d for d in databases if d in by_database]},
              "seeding": seeding, "measurements": measurements, "skipped": skipped,
              # PostgreSQL's, keyed by read as before SQLite was measured too.
              "slowdown_large_over_small": by_database.get("postgresql", {}),
              "slowdown_by_database": by_database}
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path.relative_to(ROOT)}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for database, ratios in result["slowdown_by_database"].items():
        for name, ratio in ratios.items():
            figures = ", ".join(f"{m['observations']:,}: {m['requests_per_s']:.0f} req/s"
                                for m in result["measurements"]
                                if (m["scenario"], m["database"]) == (name, database))
            out.append([NAME, f"{TITLES[name]} [{database}]",
                        f"{figures} (slowdown {ratio:.2f}x)"])
    out += [[NAME, f"[{s['database']}]", f"skipped: {s['reason']}"] for s in result["skipped"]]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.read_scaling")
    parser.add_argument("--databases", default=",".join(DATABASES),
                        help="a comma list of %(default)s")
    parser.add_argument("--postgres", choices=("auto", "skip", "require"), default="auto")
    parser.add_argument("--duration", type=float, default=Options.duration)
    parser.add_argument("--warmup", type=float, default=Options.warmup)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run(Options(duration=args.duration, warmup=args.warmup, postgres=args.postgres,
                keep=args.keep, extra={"databases": args.databases}))
