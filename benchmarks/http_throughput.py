"""http_throughput: requests/s and latency of one ``cli.py serve`` process under load.

One gateway process (one uvicorn worker, CARI_LOG_LEVEL=WARNING so the per-request access
log is not what gets measured), loaded from a separate process by wrk (or the httpx
fallback) with a fixed number of keep-alive connections, closed loop:

* ``healthz``          GET /healthz -- routing, middleware, metrics; no auth, no database
* ``graphql_patient``  POST /graphql with a clinician token:
      query BenchPatient($id: ID!) { patient(id: $id) {
          id family given managingOrganization { name } } }
  i.e. token verification, GraphQL parse/validate, a patient read that writes an audit
  record, and an organization read through the DataLoader.
* the reads of benchmarks/read_scenarios.py (authenticated ``{ __typename }`` as the
  baseline; 50 patients with labResults(first: 5); REST patient and lab-results; FHIR
  Patient read and Observation search), each also reported as a ratio to the baseline's
  req/s in the same run (``ratio_to_typename`` in the JSON).

On the embedded SQLite database, and the GraphQL scenario again on PostgreSQL when one
answers (a fresh database is created for the run and dropped afterwards; DSN from
CARI_BENCH_POSTGRES_DSN, else CARI_TEST_POSTGRES_DSN, else postgres@127.0.0.1:5432).

Each scenario: a sanity request (the answer is checked), a discarded warm-up, then the
measured run, once per ``--connections`` value (``--connections 1,16`` adds the unloaded
latency). Besides req/s and latency it records the CPU the server, the client, the local
PostgreSQL backends and everything else on the machine used during the run (another
process busy on a 2-core machine skews the figures; ``other_cpu_pct`` shows it), and the
server's RSS afterwards. With ``--profile`` a further run per scenario is sampled by
``py-spy record --gil`` (where the server's one Python core goes); the hottest functions
are printed and the collapsed stacks saved next to the JSON (speedscope/flamegraph input).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks._loadgen import Request, run_load, wrk_available, wrk_version
from benchmarks._support import (
    RESULTS,
    ROOT,
    GatewayProcess,
    Options,
    ms,
    processes_cpu_seconds,
    running_gateway,
    scratch_dir,
    write_result,
)
from benchmarks.read_scenarios import READ_ORDER, add_ratios
from benchmarks.scenarios import PATIENT_QUERY, SCENARIOS, TITLES
from benchmarks.scenarios import fixtures as scenario_fixtures

NAME = "http_throughput"
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


# ------------------------------------------------------------------ CPU accounting


def _system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")



def _measure(gateway: GatewayProcess, request: Request, options: Options, tool: str,
             connections: int, database: str) -> dict[str, Any]:
    if options.warmup > 0:
        run_load(request, tool=tool, connections=connections, duration=options.warmup)
    watch_db = database == "postgresql"
    db_before = processes_cpu_seconds("postgres") if watch_db else {}
    server_before, system_before = gateway.cpu_seconds(), _system_busy_seconds()
    started = time.perf_counter()
    result = run_load(request, tool=tool, connections=connections, duration=options.duration)
    wall = time.perf_counter() - started
    server_cpu = gateway.cpu_seconds() - server_before
    system_cpu = _system_busy_seconds() - system_before
    db_cpu = 0.0
    if watch_db:  # PostgreSQL backends on this machine work for the gateway: not "other"
        db_after = processes_cpu_seconds("postgres")
        db_cpu = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
    client_cpu = result.get("client_cpu_s", 0.0)
    result["server_cpu_pct"] = 100 * server_cpu / wall
    result["client_cpu_pct"] = 100 * client_cpu / wall
    if watch_db:
        result["database_cpu_pct"] = 100 * db_cpu / wall
    # Whatever else ran meanwhile (tests, builds): noise in these figures when large.
    result["other_cpu_pct"] = max(0.0, 100 * (system_cpu - server_cpu - client_cpu - db_cpu)
                                  / wall)
    result["server_rss_mb"] = gateway.rss_mb()
    return result


def _pyspy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _frame_package(frame: str) -> str:
    """'handle (sqlalchemy/engine/base.py:1234)' -> 'sqlalchemy'; our code by top folder."""
    if "(" not in frame:
        return frame
    where = frame.rsplit("(", 1)[1].rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in where:
        return where.split("site-packages/", 1)[1].split("/")[0].removesuffix(".py")
    path = Path(where)
    with contextlib.suppress(ValueError):
        rel = path.resolve().relative_to(ROOT)
        return rel.parts[0].removesuffix(".py")
    return "python-stdlib" if "/lib/python" in where else path.name


def _summarize_profile(raw: Path, top: int = 15) -> dict[str, Any]:
    """Hottest functions (self and inclusive) and packages from py-spy's collapsed stacks."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    pkg_counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        pkg = _frame_package(frames[-1])
        pkg_counts[pkg] = pkg_counts.get(pkg, 0) + count
        for frame in set(frames):
            incl_counts[frame] = incl_counts.get(frame, 0) + count

    def ranked(counts: dict[str, int], n: int) -> list[dict[str, Any]]:
        best = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]
        return [{"frame": k, "pct": round(100 * v / total, 1)} for k, v in best]

    return {"samples": total, "self": ranked(self_counts, top),
            "inclusive": ranked(incl_counts, top * 2), "packages_self": ranked(pkg_counts, top)}


def _profile(gateway: GatewayProcess, request: Request, options: Options, tool: str,
             connections: int, label: str) -> dict[str, Any] | None:
    pyspy = _pyspy()
    if pyspy is None:
        print("    (no py-spy: `.venv/bin/pip install py-spy` for --profile)")
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"{NAME}-{label}.collapsed.txt"
    seconds = max(2, round(options.duration))
    # --gil: only the thread holding the GIL is sampled, i.e. where the one core the
    # server can use for Python goes (SQLite's own work in aiosqlite threads is not shown).
    spy = subprocess.Popen([pyspy, "record", "--pid", str(gateway.pid), "--duration",
                            str(seconds), "--rate", "200", "--gil", "--format", "raw",
                            "--output", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # let py-spy attach before the load starts
    loaded = run_load(request, tool=tool, connections=connections, duration=seconds)
    _, err = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        print(f"    (py-spy failed: {err.decode(errors='replace')[-500:]})")
        return None
    summary = _summarize_profile(raw)
    summary["collapsed_stacks"] = str(raw.relative_to(ROOT))
    summary["requests_per_s_while_sampled"] = loaded["requests_per_s"]
    print(f"    py-spy --gil profile ({summary['samples']} samples, {raw.relative_to(ROOT)}):")
    for entry in summary["packages_self"][:8]:
        print(f"      {entry['pct']:5.1f}% self in {entry['frame']}")
    for entry in summary["self"][:8]:
        print(f"      {entry['pct']:5.1f}% self  {entry['frame']}")
    return summary


def _run_scenarios(gateway: GatewayProcess, names: list[str], database: str,
                   options: Options, tool: str) -> list[dict[str, Any]]:
    fixtures = scenario_fixtures(gateway)
    results = []
    for name in names:
        request = SCENARIOS[name](gateway, fixtures)
        for connections in options.connections:
            result = _measure(gateway, request, options, tool, connections, database)
            entry = {"scenario": name, "database": database, "connections": connections,
                     "duration_s": options.duration, **result}
            lat = result["latency_s"]
            notes = []
            if result["error_count"]:
                notes.append(f"!! {result['error_count']} errors {result['errors']}")
            if result["other_cpu_pct"] > 25:
                notes.append(f"!! other processes used {result['other_cpu_pct']:.0f}% of a "
                             "core meanwhile: noisy")
            db = (f", PostgreSQL {result['database_cpu_pct']:.0f}%"
                  if "database_cpu_pct" in result else "")
            print(f"[{NAME}] {TITLES[name]:20} [{database}] c={connections:<3}: "
                  f"{result['requests_per_s']:7.0f} req/s  p50 {ms(lat['p50'])}  "
                  f"p99 {ms(lat['p99'])}  max {ms(lat['max'])}  ({result['requests']} requests; "
                  f"CPU: server {result['server_cpu_pct']:.0f}%, client "
                  f"{result['client_cpu_pct']:.0f}%{db}, other {result['other_cpu_pct']:.0f}%; "
                  f"server RSS {result['server_rss_mb']:.0f} MB)"
                  + "".join(f"\n    {n}" for n in notes))
            if options.profile:
                entry["profile"] = _profile(gateway, request, options, tool, connections,
                                            f"{name}-{database}-c{connections}")
            results.append(entry)
    return results


# ------------------------------------------------------------------ PostgreSQL


def _pg_admin_dsn() -> str:
    return (os.environ.get("CARI_BENCH_POSTGRES_DSN") or os.environ.get("CARI_TEST_POSTGRES_DSN")
            or DEFAULT_PG_DSN)


async def _pg_execute(dsn: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new database for this run (its URL for CARI_DATABASE_URL), dropped afterwards."""
    dsn = _pg_admin_dsn()
    name = f"cari_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_execute(dsn, f'CREATE DATABASE "{name}"'))
    parts = urlsplit(dsn)
    try:
        yield f"postgresql+asyncpg://{parts.netloc}/{name}"
    finally:
        asyncio.run(_pg_execute(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _postgres_problem() -> str | None:
    """None when PostgreSQL answers at the admin DSN, else why not."""
    try:
        asyncio.run(_pg_execute(_pg_admin_dsn(), "SELECT 1"))
    except Exception as exc:  # unreachable, refused, auth: all mean "skip it"
        return f"{type(exc).__name__}: {exc}"
    return None


# ------------------------------------------------------------------ entry points


def _tool(options: Options) -> str:
    if options.loadgen in ("auto", "wrk") and wrk_available():
        return "wrk"
    if options.loadgen == "wrk":
        raise RuntimeError("wrk is not installed (apt-get install -y wrk), or use --loadgen httpx")
    if options.loadgen == "auto":
        print(f"[{NAME}] wrk not found (apt-get install -y wrk): falling back to the httpx "
              "client, whose own cost caps the figures on a small machine")
    return "httpx"


def run(options: Options) -> dict[str, Any]:
    tool = _tool(options)
    tool_name = wrk_version() if tool == "wrk" else "httpx (benchmarks._loadgen)"
    conns = ", ".join(map(str, options.connections))
    print(f"[{NAME}] load: {tool_name}, {conns} connection(s), "
          f"{options.warmup:g} s warm-up + {options.duration:g} s per scenario")
    scenarios: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    env = {"CARI_LOG_LEVEL": "WARNING"}
    with scratch_dir(NAME, options.keep) as scratch:
        with running_gateway(scratch / "sqlite", scratch, **env) as gateway:
            scenarios += _run_scenarios(gateway, _chosen(options, [
                "healthz", *READ_ORDER, "fhir_create", "hl7_ingest_1obx",
                "hl7_ingest_10obx"]), "sqlite", options, tool)
        problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if problem is None:
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **env) as gateway:
                scenarios += _run_scenarios(gateway, _chosen(options, [
                    *READ_ORDER, "fhir_create", "hl7_ingest_1obx", "hl7_ingest_10obx"]),
                    "postgresql", options, tool)
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        else:
            print(f"[{NAME}] PostgreSQL scenario skipped: {problem}")
            skipped.append({"scenario": "graphql_patient", "database": "postgresql",
                            "reason": problem})
    for line in add_ratios(scenarios):  # reads against the same-run { __typename }
        print(f"[{NAME}] {line}")
    result = {"params": {"loadgen": tool_name, "connections": list(options.connections),
                         "duration_s": options.duration, "warmup_s": options.warmup,
                         "server": "python cli.py serve (1 uvicorn worker)",
                         "log_level": "WARNING", "graphql_query": PATIENT_QUERY},
              "scenarios": scenarios, "skipped": skipped}
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path.relative_to(ROOT)}")
    return result


def _chosen(options: Options, names: list[str]) -> list[str]:
    return [n for n in names if not options.scenarios or n in options.scenarios]


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        lat = s["latency_s"]
        errors = f", {s['error_count']} ERRORS" if s["error_count"] else ""
        if "ratio_to_typename" in s:
            errors += f", {s['ratio_to_typename']:.0%} of {{ __typename }}"
        out.append([NAME, f"{TITLES[s['scenario']]} [{s['database']}]",
                    f"{s['requests_per_s']:.0f} req/s, p50 {ms(lat['p50'])}, "
                    f"p99 {ms(lat['p99'])} ({s['connections']} conns{errors})"])
    for s in result["skipped"]:
        out.append([NAME, f"{TITLES[s['scenario']]} [{s['database']}]", "skipped"])
    return out
