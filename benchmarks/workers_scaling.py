"""Every core: the same requests against 1 and then 2 worker processes on PostgreSQL.

``cari-gateway serve --workers N`` (CARI_WORKERS) on a fresh PostgreSQL database each run,
in alternating rounds (1, 2, 1, 2 workers); wrk at 32 connections for each scenario: the
GraphQL ``patient(id:)`` read (with its audit row) and signed Stripe webhook intake
(pre-signed with the stripe SDK, stored with its outbox job).
Reported: req/s and p50/p99 for each run, and the scaling ratio 2 workers / 1 (the median
of the rounds' paired ratios).

On a 2-core machine the load generator and PostgreSQL share the cores with the workers, so
the ratio stays well under 2; it says how much of a second core a second worker turns into
requests here. SQLite is not measured: it refuses more than one worker.

    python -m benchmarks workers_scaling --duration 10
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks._loadgen import Request, run_load, run_wrk
from benchmarks._support import (
    GatewayProcess,
    Options,
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
from benchmarks.scenarios import SCENARIOS, fixtures
from benchmarks.webhook_ack import SECRET, _presigned_script

NAME = "workers_scaling"
CONNECTIONS = 32
WORKER_COUNTS = (1, 2)
ROUNDS = 2  # 1, 2, 1, 2 workers: alternated, so drifting machine load hits both alike


def _webhook(gateway: GatewayProcess, scratch: Path, options: Options,
             tool: str, label: str) -> dict[str, Any]:
    if tool != "wrk":
        raise RuntimeError("the webhook scenario needs wrk (pre-signed events)")
    request = Request(url=gateway.base_url + "/api/webhooks/stripe")
    count = int(max(options.duration, 1) * 6000)
    warm = _presigned_script(scratch / f"warm-{label}.tsv", int(options.warmup * 6000) + 100)
    if options.warmup > 0:
        run_wrk(request, connections=CONNECTIONS, duration=options.warmup, script_text=warm)
    script = _presigned_script(scratch / f"events-{label}.tsv", count)
    result = run_wrk(request, connections=CONNECTIONS, duration=options.duration,
                     script_text=script)
    if result["requests"] + CONNECTIONS >= count:
        raise RuntimeError("the pre-signed events ran out: raise the count")
    return result


def _graphql(gateway: GatewayProcess, options: Options, tool: str,
             fx: dict[str, str]) -> dict[str, Any]:
    request = SCENARIOS["graphql_patient"](gateway, fx)
    if options.warmup > 0:
        run_load(request, tool=tool, connections=CONNECTIONS, duration=options.warmup)
    return run_load(request, tool=tool, connections=CONNECTIONS, duration=options.duration)


def _one(url: str, workers: int, scratch: Path, options: Options,
         tool: str) -> list[dict[str, Any]]:
    env = {"CARI_LOG_LEVEL": "WARNING", "CARI_DATABASE_URL": url, "CARI_WORKERS": str(workers),
           "CARI_STRIPE_WEBHOOK_SECRETS": SECRET, "CARI_OUTBOX_POLL_SECONDS": "0.2"}
    out = []
    with running_gateway(scratch / f"data-{workers}", scratch, **env) as gateway:
        fx = fixtures(gateway)
        for scenario in ("graphql_patient", "stripe_webhook"):
            if scenario == "graphql_patient":
                load = _graphql(gateway, options, tool, fx)
            else:
                load = _webhook(gateway, scratch, options, tool, f"w{workers}")
            row = {"scenario": scenario, "workers": workers, "connections": CONNECTIONS,
                   "requests_per_s": load["requests_per_s"], "latency_s": load["latency_s"],
                   "errors": load["error_count"]}
            print(f"[{NAME}] {scenario}, {workers} worker(s): {load['requests_per_s']:.0f}/s, "
                  f"p50 {ms(load['latency_s']['p50'])}, p99 {ms(load['latency_s']['p99'])}"
                  f"{', ' + str(load['error_count']) + ' ERRORS' if load['error_count'] else ''}")
            out.append(row)
    return out


def run(options: Options) -> dict[str, Any]:
    tool = _tool(options)
    problem = _postgres_problem()
    if problem is not None:
        if options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        result: dict[str, Any] = {"scenarios": [], "skipped": problem}
        write_result(NAME, result)
        return result
    measured: list[dict[str, Any]] = []
    with scratch_dir(NAME, options.keep) as scratch:
        for round_ in range(ROUNDS):
            for workers in WORKER_COUNTS:
                with fresh_postgres_database() as url:  # each run starts from an empty database
                    measured += [{**m, "round": round_}
                                 for m in _one(url, workers, scratch, options, tool)]
    ratios = {}
    for scenario in ("graphql_patient", "stripe_webhook"):
        # Paired: each round's 2-worker figure over the same round's 1-worker figure.
        per_round = []
        for round_ in range(ROUNDS):
            rates = {m["workers"]: m["requests_per_s"] for m in measured
                     if m["scenario"] == scenario and m["round"] == round_}
            per_round.append(rates[2] / rates[1] if rates.get(1) else 0.0)
        ratios[scenario] = statistics.median(per_round)
        print(f"[{NAME}] {scenario}: 2 workers / 1 worker = {ratios[scenario]:.2f} (median of "
              f"{', '.join(f'{r:.2f}' for r in per_round)})")
    result = {"params": {"connections": CONNECTIONS, "duration_s": options.duration,
                         "warmup_s": options.warmup, "loadgen": tool, "database": "postgresql"},
              "scenarios": measured, "ratios": ratios}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    if not result["scenarios"]:
        return [[NAME, "1 vs 2 workers [postgresql]", f"skipped: {result['skipped']}"]]
    out = []
    for scenario, ratio in result["ratios"].items():
        parts = []
        for workers in WORKER_COUNTS:
            runs = [m for m in result["scenarios"]
                    if m["scenario"] == scenario and m["workers"] == workers]
            rate = statistics.median(m["requests_per_s"] for m in runs)
            p99 = statistics.median(m["latency_s"]["p99"] for m in runs)
            parts.append(f"{workers}w {rate:.0f}/s p99 {ms(p99)}")
        out.append([NAME, f"{scenario}, 1 vs 2 workers [postgresql]",
                    f"{'; '.join(parts)}; ratio {ratio:.2f}"])
    return out


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
    sys.exit(0)
