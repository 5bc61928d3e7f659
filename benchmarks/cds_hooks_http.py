"""cds_hooks_http: ``POST /cds-services/drug-interaction-check`` (patient-view) over HTTP.

A real gateway process (``cli.py serve``, embedded SQLite under a temporary data dir), the
shipped knowledge base indexed once at start. Each request carries 5 or 20 active
medications in ``context.medications`` (names as a clinician types them, several of which
interact: rifampicin with dolutegravir, efavirenz with artemether-lumefantrine, ...) and a
fresh ``hookInstance`` (so every call stores its own cards), with a clinician's PASETO. A
call reads the patient's pregnancy evidence from the store (two searches), writes its audit
record and its issued cards. Reported per medication count: p50/p99 and req/s at 1
connection (unloaded latency) and at 8 (throughput), by wrk (else the httpx client).

    python -m benchmarks cds_hooks_http
    python -m benchmarks cds_hooks_http --duration 5
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks._loadgen import Request, run_load, wrk_available
from benchmarks._support import Options, cli, ms, running_gateway, scratch_dir, write_result

NAME = "cds_hooks_http"
MEDICATIONS = [
    "Rifampicin 150 mg", "Dolutegravir 50 mg tablet", "Efavirenz 600mg",
    "Artemether/lumefantrine 20/120", "Cotrimoxazole 960 mg", "Fluconazole 200 mg",
    "Simvastatin 40 mg", "Clarithromycin 500 mg", "Ibuprofen 400 mg", "Lisinopril 10 mg",
    "Warfarin 5 mg", "Aspirin 75 mg", "Amiodarone 200 mg", "Digoxin 0.25 mg",
    "Ciprofloxacin 500 mg", "Haloperidol 5 mg", "Methadone 40 mg", "Fluoxetine 20 mg",
    "Spironolactone 25 mg", "Potassium chloride 600 mg"]
TOKEN = "HOOKINSTANCE"  # replaced per request: every call its own hookInstance
CONNECTIONS = (1, 8)


def body(count: int) -> str:
    return json.dumps({"hookInstance": TOKEN, "hook": "patient-view",
                       "context": {"userId": "Practitioner/bench", "patientId": "bench-patient",
                                   "medications": MEDICATIONS[:count]}})


def run(options: Options) -> dict[str, Any]:
    tool = options.loadgen if options.loadgen != "auto" else (
        "wrk" if wrk_available() else "httpx")
    figures: list[dict[str, Any]] = []
    with scratch_dir(NAME, options.keep) as scratch, \
            running_gateway(scratch / "var", scratch) as gateway:
        token = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
        url = f"{gateway.base_url}/cds-services/drug-interaction-check"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for count in (5, 20):
            request = Request(url=url, method="POST", headers=headers, body=body(count),
                              unique_token=TOKEN)
            run_load(request, tool=tool, connections=1, duration=options.warmup)
            for connections in CONNECTIONS:
                found = run_load(request, tool=tool, connections=connections,
                                 duration=options.duration)
                lat = found["latency_s"]
                print(f"[{NAME}] {count} medications, {connections} connection(s): p50 "
                      f"{ms(lat['p50'])} p99 {ms(lat['p99'])} "
                      f"{found['requests_per_s']:.0f} req/s, errors {found['error_count']}")
                figures.append({"medications": count, "connections": connections, **found})
    result = {"tool": tool, "runs": figures}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{r['medications']} medications, {r['connections']} conn",
             f"p50 {ms(r['latency_s']['p50'])}, p99 {ms(r['latency_s']['p99'])}, "
             f"{r['requests_per_s']:.0f} req/s"] for r in result["runs"]]


if __name__ == "__main__":
    print(json.dumps(run(Options()), indent=2, default=str))
