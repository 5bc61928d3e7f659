"""Patient registration: ``POST /api/patients`` and FHIR ``POST /api/fhir/Patient`` under load.

For SQLite and (if reachable) PostgreSQL: a gateway process (``python cli.py serve``), wrk
(or the httpx fallback) with 16 keep-alive connections, each request a new patient with an
identifier unique to it. Every registration writes the MPI row with its identifiers and
blocking keys, the FHIR Patient resource (versioned, indexed), an audit row and, for REST, a
``patient.created`` outbox row; each is answered only after its commit. Afterwards the driver
counts the rows in the database: one patient, one FHIR resource and one audit row per
acknowledged registration, nothing lost and nothing stored twice.

    python -m benchmarks registration --duration 10
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from benchmarks._loadgen import Request, run_load
from benchmarks._support import (
    GatewayProcess,
    Options,
    cli,
    ms,
    running_gateway,
    scratch_dir,
    table,
    write_result,
)
from benchmarks.http_throughput import (
    _pg_admin_dsn,
    _postgres_problem,
    _tool,
    fresh_postgres_database,
)

NAME = "registration"
CONNECTIONS = 16
TOKEN = "REGTOKEN"
SYSTEM = "urn:bench:registration"
SETTLE_S = 0.5

REST_BODY = {"identifiers": [{"system": SYSTEM, "value": TOKEN}], "family": "Mutesi",
             "given": ["Aline"], "birth_date": "1990-04-12", "gender": "female",
             "phone": "+250788000000"}
FHIR_BODY = {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": TOKEN}],
             "name": [{"family": "Mutesi", "given": ["Aline"]}], "gender": "female",
             "birthDate": "1990-04-12"}
SCENARIOS = {"rest": ("/api/patients", "application/json", REST_BODY, "POST /api/patients"),
             "fhir": ("/api/fhir/Patient", "application/fhir+json", FHIR_BODY,
                      "FHIR POST Patient")}

_COUNTS = {
    "patients": "SELECT count(*) FROM patients",
    "identifiers": f"SELECT count(*) FROM patient_identifiers WHERE system = '{SYSTEM}'",
    "fhir_patients": "SELECT count(*) FROM fhir_resources WHERE resource_type = 'Patient'",
    "blocking_keys": "SELECT count(DISTINCT patient_id) FROM mpi_blocking_keys",
    "audit_creates": "SELECT count(*) FROM audit_events WHERE action = 'C' "
                     "AND outcome = 'success' AND resource_type = 'Patient'",
}
# Events in the outbox, not rows: the events one commit announces share one fan-out row
# (resolvers/notifications/model.py, batch_fanout), and registrations share commits.
_OUTBOX_EVENTS = {
    "sqlite": "SELECT coalesce(sum(CASE WHEN json_type(payload, '$.events') = 'array' "
              "THEN json_array_length(payload, '$.events') ELSE 1 END), 0) FROM outbox_messages",
    "postgresql": "SELECT coalesce(sum(CASE WHEN jsonb_typeof(payload->'events') = 'array' "
                  "THEN jsonb_array_length(payload->'events') ELSE 1 END), 0) "
                  "FROM outbox_messages",
}


# Every count of one snapshot (one read transaction): a commit landing between two counts
# would otherwise look like a registration missing a row.
def _counts_sqlite(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        counts = {k: int(db.execute(q).fetchone()[0])
                  for k, q in {**_COUNTS, "outbox": _OUTBOX_EVENTS["sqlite"]}.items()}
        db.execute("COMMIT")
        return counts
    finally:
        db.close()


async def _counts_pg(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return {k: int(await conn.fetchval(q))
                    for k, q in {**_COUNTS, "outbox": _OUTBOX_EVENTS["postgresql"]}.items()}
    finally:
        await conn.close()


def _request(gateway: GatewayProcess, token: str, kind: str) -> Request:
    path, content_type, body, _title = SCENARIOS[kind]
    return Request(url=gateway.base_url + path, method="POST",
                   headers={"Content-Type": content_type, "Authorization": f"Bearer {token}",
                            "Prefer": "return=minimal"},
                   body=json.dumps(body), unique_token=TOKEN)


def _measure(gateway: GatewayProcess, database: str, counts: Any, options: Options,
             tool: str) -> list[dict[str, Any]]:
    token = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
    out = []
    for kind in ("rest", "fhir"):
        request = _request(gateway, token, kind)
        if options.warmup > 0:
            run_load(request, tool=tool, connections=CONNECTIONS, duration=options.warmup)
        before = counts()
        load = run_load(request, tool=tool, connections=CONNECTIONS, duration=options.duration)
        time.sleep(SETTLE_S)  # requests wrk left in flight are committed (or refused) by now
        after = counts()
        grew = {k: after[k] - before[k] for k in after}
        acknowledged = load["requests"] - load["error_count"]
        # wrk stops with requests in flight (the warm-up's may land after ``before``, the
        # run's before ``after``): they are stored without being acknowledged, at most one
        # per connection at each end. Nothing acknowledged may be missing, and every
        # registration is whole: each table grew by the same count.
        checked = [k for k in ("patients", "fhir_patients", "identifiers", "blocking_keys",
                               "audit_creates", "outbox") if not (kind == "fhir" and k == "outbox")]
        short = {k: grew[k] - acknowledged for k in checked
                 if not 0 <= grew[k] - acknowledged <= 2 * CONNECTIONS
                 or grew[k] != grew["patients"]}
        result = {"database": database, "scenario": kind, "connections": CONNECTIONS,
                  "requests": load["requests"], "errors": load["error_count"],
                  "requests_per_s": load["requests_per_s"], "latency_s": load["latency_s"],
                  "rows_added": grew, "mismatch": short}
        print(f"[{NAME}] {database} {SCENARIOS[kind][3]}: {load['requests_per_s']:.0f}/s, p50 "
              f"{ms(load['latency_s']['p50'])}, p99 {ms(load['latency_s']['p99'])} "
              f"({CONNECTIONS} conns); {acknowledged} acknowledged, rows added {grew}")
        if short or load["error_count"]:
            raise AssertionError(f"registrations lost, doubled or refused: {result}")
        out.append(result)
    return out


def run(options: Options) -> dict[str, Any]:
    tool = _tool(options)
    # A subscriber for patient events, so each REST registration also writes its outbox row;
    # no worker delivers them here (the endpoint is a closed port).
    env = {"CARI_LOG_LEVEL": "WARNING", "CARI_EVENT_WEBHOOK_URL": "http://127.0.0.1:9/events",
           "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1", "CARI_OUTBOX_WORKER": "false"}
    scenarios: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with scratch_dir(NAME, options.keep) as scratch:
        with running_gateway(scratch / "sqlite", scratch, **env) as gateway:
            db = scratch / "sqlite" / "cari.sqlite3"
            scenarios += _measure(gateway, "sqlite", lambda: _counts_sqlite(db), options, tool)
        problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if problem is None:
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **env) as gateway:
                scenarios += _measure(gateway, "postgresql",
                                      lambda: asyncio.run(_counts_pg(url)), options, tool)
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        else:
            skipped.append({"database": "postgresql", "reason": problem})
    result = {"params": {"connections": CONNECTIONS, "duration_s": options.duration,
                         "loadgen": tool, "server": "python cli.py serve (1 worker)"},
              "scenarios": scenarios, "skipped": skipped}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        lat = s["latency_s"]
        out.append([NAME, f"{SCENARIOS[s['scenario']][3]} [{s['database']}]",
                    f"{s['requests_per_s']:.0f}/s, p50 {ms(lat['p50'])}, p99 {ms(lat['p99'])} "
                    f"({s['connections']} conns; rows checked)"])
    for s in result["skipped"]:
        out.append([NAME, f"registration [{s['database']}]", "skipped"])
    return out


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
    sys.exit(0)
