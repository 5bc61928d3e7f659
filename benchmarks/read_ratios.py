"""Each read as a share of the authenticated ``{ __typename }``, paired round by round.

http_throughput measures the baseline once and every read after it; on a machine whose
speed drifts (other tenants, turbo, thermal) one run's ratio can move by a fifth. Here the
baseline and each read alternate, ``--runs`` rounds of ``--duration`` seconds each
(``{ __typename }``, read, ``{ __typename }``, read, ...), and the ratio is taken pair by
pair: the figure is the median of the paired ratios, with their min and max to show the
spread. One gateway process on SQLite (and PostgreSQL with ``--postgres require``), wrk at
the first ``--connections`` value, data seeded through the API as in http_throughput.

    python -m benchmarks read_ratios --runs 5 --duration 3 --warmup 1
    python -m benchmarks read_ratios --scenarios graphql_patient,rest_lab_results
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._support import Options, running_gateway, scratch_dir, write_result
from benchmarks.http_throughput import (
    _measure,
    _postgres_problem,
    _tool,
    fresh_postgres_database,
)
from benchmarks.read_scenarios import BASELINE, READ_ORDER
from benchmarks.scenarios import SCENARIOS, TITLES
from benchmarks.scenarios import fixtures as scenario_fixtures

NAME = "read_ratios"
TARGETS = {"graphql_patient": 0.60, "rest_lab_results": 0.50, "fhir_patient": 0.50,
           "fhir_observation_search": 0.50}


def _rounds(gateway: Any, database: str, options: Options, tool: str) -> list[dict[str, Any]]:
    fixtures = scenario_fixtures(gateway)
    connections = options.connections[0]
    names = [n for n in READ_ORDER if n != BASELINE
             and (not options.scenarios or n in options.scenarios)]
    baseline = SCENARIOS[BASELINE](gateway, fixtures)
    reads = {n: SCENARIOS[n](gateway, fixtures) for n in names}
    pairs: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for round_no in range(max(1, options.runs)):
        for name in names:
            base = _measure(gateway, baseline, options, tool, connections, database)
            read = _measure(gateway, reads[name], options, tool, connections, database)
            if base["error_count"] or read["error_count"]:
                raise RuntimeError(f"{name}: errors {base['errors']} {read['errors']}")
            pairs[name].append((base["requests_per_s"], read["requests_per_s"]))
            print(f"[{NAME}] round {round_no + 1} {TITLES[name]:24} [{database}]: "
                  f"{read['requests_per_s']:7.0f} req/s vs {{ __typename }} "
                  f"{base['requests_per_s']:6.0f} = {read['requests_per_s'] / base['requests_per_s']:.0%}"
                  f" (other processes {max(base['other_cpu_pct'], read['other_cpu_pct']):.0f}%)")
    out = []
    for name, measured in pairs.items():
        ratios = [read / base for base, read in measured]
        out.append({"scenario": name, "database": database, "connections": connections,
                    "rounds": len(measured), "duration_s": options.duration,
                    "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "read_req_per_s_median": statistics.median(r for _b, r in measured),
                    "typename_req_per_s_median": statistics.median(b for b, _r in measured),
                    "pairs": measured, "target": TARGETS.get(name)})
    return out


def run(options: Options) -> dict[str, Any]:
    tool = _tool(options)
    results: list[dict[str, Any]] = []
    env = {"CARI_LOG_LEVEL": "WARNING"}
    with scratch_dir(NAME, options.keep) as scratch:
        with running_gateway(scratch / "sqlite", scratch, **env) as gateway:
            results += _rounds(gateway, "sqlite", options, tool)
        if options.postgres == "require":
            problem = _postgres_problem()
            if problem is not None:
                raise RuntimeError(f"PostgreSQL is not reachable: {problem}")
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **env) as gateway:
                results += _rounds(gateway, "postgresql", options, tool)
    result = {"params": {"rounds": options.runs, "duration_s": options.duration,
                         "warmup_s": options.warmup, "tool": tool,
                         "connections": options.connections[0]},
              "scenarios": results}
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        target = f", target >= {s['target']:.0%}" if s["target"] else ""
        out.append([NAME, f"{TITLES[s['scenario']]} [{s['database']}]",
                    f"median {s['ratio_median']:.0%} of {{ __typename }} "
                    f"(min {s['ratio_min']:.0%}, max {s['ratio_max']:.0%}, {s['rounds']} rounds"
                    f"{target}); {s['read_req_per_s_median']:.0f} req/s vs "
                    f"{s['typename_req_per_s_median']:.0f}"])
    return out
