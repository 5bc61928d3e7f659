"""Cross-border lookup latency: a fan-out over eight HIEs, one of them 2 s late, against a
single-country lookup, measured in the same run against a real gateway.

Eight HIE stand-ins (the tests' Medplum fhir-router server, tests/medplum/server, one node
process per country, each holding a Patient with national id 12345678) behind OAuth2 client
credentials; the gateway (``python cli.py serve``) has every ``CARI_HIE_<CC>_*`` pointed at
them with a 1 s timeout, and ZA's stand-in answers its FHIR requests 2 s late. Measured,
interleaved request by request: ``?country=KE`` (one HIE) and ``?country=ALL`` (eight in
parallel; ZA cut at its 1 s timeout). Twice: with the circuit breaker out of the way
(``CARI_HIE_BREAKER_FAILURES`` very high: every fan-out waits for ZA's timeout) and with the
default breaker (after 5 timeouts ZA is skipped until the breaker's 30 s reset).

    python -m benchmarks cross_border
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._support import (
    HOST,
    Options,
    cli,
    free_port,
    ms,
    percentile,
    running_gateway,
    scratch_dir,
    write_result,
)

NAME = "cross_border"
SERVER_DIR = Path(__file__).resolve().parent.parent / "tests" / "medplum" / "server"
COUNTRIES = ("KE", "GH", "NG", "ZA", "TZ", "UG", "RW", "ET")
SLOW = "ZA"
CLIENT_ID, CLIENT_SECRET = "bench-gateway", "bench-secret"
NATIONAL_ID = "12345678"
REQUESTS = 60  # per kind and variant
SYSTEM = "urn:cari:bench:{}:national-id"


class StandIn:
    def __init__(self, log_dir: Path, code: str) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.code = code
        self._out = log_dir / f"hie-{code}.out"
        env = {**os.environ, "PORT": str(self.port), "HOST": HOST, "CLIENT_ID": CLIENT_ID,
               "CLIENT_SECRET": CLIENT_SECRET}
        node = shutil.which("node")
        if node is None or not (SERVER_DIR / "node_modules").is_dir():
            raise RuntimeError("needs node and `npm ci` in tests/medplum/server")
        with open(self._out, "wb") as out, open(log_dir / f"hie-{code}.err", "wb") as err:
            self.process = subprocess.Popen([node, str(SERVER_DIR / "server.mjs")], env=env,
                                            stdout=out, stderr=err, cwd=SERVER_DIR)

    def wait(self) -> None:
        deadline = time.monotonic() + 30
        while f"listening {self.port}" not in self._out.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"HIE stand-in {self.code} did not start")
            time.sleep(0.05)
        patient = {"resourceType": "Patient", "name": [{"family": f"Person{self.code}"}],
                   "identifier": [{"system": SYSTEM.format(self.code), "value": NATIONAL_ID}]}
        admin = f"{self.base_url}/__admin"
        httpx.post(f"{admin}/fhir/R4/Patient", json=patient, timeout=10,
                   headers={"Content-Type": "application/fhir+json"}).raise_for_status()
        if self.code == SLOW:
            httpx.post(f"{admin}/faults", json={"mode": "slow", "delayMs": 2000,
                                                "target": "fhir"}, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _hie_env(standins: list[StandIn]) -> dict[str, str]:
    env = {"CARI_OUTBOUND_ALLOWLIST": HOST, "CARI_LOG_LEVEL": "WARNING"}
    for s in standins:
        prefix = f"CARI_HIE_{s.code}_"
        env.update({prefix + "BASE_URL": f"{s.base_url}/fhir/R4",
                    prefix + "TOKEN_URL": f"{s.base_url}/oauth2/token", prefix + "AUTH": "oauth2",
                    prefix + "MODE": "fhir", prefix + "CLIENT_ID": CLIENT_ID,
                    prefix + "CLIENT_SECRET": CLIENT_SECRET, prefix + "TIMEOUT": "1",
                    prefix + "IDENTIFIER_SYSTEM": SYSTEM.format(s.code)})
    return env


def _summary(latencies: list[float]) -> dict[str, float]:
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "max": max(latencies), "n": len(latencies)}


def _measure(base_url: str, token: str) -> dict[str, Any]:
    times: dict[str, list[float]] = {"single": [], "fan_out": []}
    answers: dict[str, Any] = {}
    path = f"/api/fhir/cross-border/Patient/{NATIONAL_ID}"
    with httpx.Client(base_url=base_url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for query in ("KE", "ALL"):  # warm-up: tokens, pools
            client.get(path, params={"country": query})
        for _ in range(REQUESTS):
            for kind, query in (("single", "KE"), ("fan_out", "ALL")):
                started = time.perf_counter()
                response = client.get(path, params={"country": query})
                times[kind].append(time.perf_counter() - started)
                body = response.json()
                answers[kind] = {"status": response.status_code, "total": body.get("total"),
                                 "failed": sorted(
                                     i["details"]["text"] for e in body.get("entry", [])
                                     if e["search"]["mode"] == "outcome"
                                     for i in e["resource"]["issue"] if "details" in i)}
    return {kind: {"latency_s": _summary(v), "last_answer": answers[kind]}
            for kind, v in times.items()}


def run(options: Options) -> dict[str, Any]:
    variants: list[dict[str, Any]] = []
    with scratch_dir(NAME, options.keep) as scratch:
        standins = [StandIn(scratch, code) for code in COUNTRIES]
        try:
            for s in standins:
                s.wait()
            for variant, failures in (("no breaker (every fan-out waits for the timeout)",
                                       "1000000"), ("default breaker (5 failures, 30 s)", "5")):
                env = {**_hie_env(standins), "CARI_HIE_BREAKER_FAILURES": failures}
                data = scratch / f"gw-{failures}"
                with running_gateway(data, scratch, **env) as gateway:
                    token = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
                    found = _measure(gateway.base_url, token)
                variants.append({"variant": variant, **found})
                for kind, figures in found.items():
                    lat = figures["latency_s"]
                    print(f"[{NAME}] {variant}: {kind} p50 {ms(lat['p50'])} p99 "
                          f"{ms(lat['p99'])} ({figures['last_answer']})")
        finally:
            for s in standins:
                s.stop()
    result = {"requests": REQUESTS, "slow_country": SLOW, "delay_s": 2.0, "timeout_s": 1.0,
              "variants": variants}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for v in result["variants"]:
        for kind, label in (("single", "country=KE (1 HIE)"),
                            ("fan_out", "country=ALL (8 HIEs, ZA 2 s late, 1 s timeout)")):
            lat = v[kind]["latency_s"]
            out.append([NAME, f"{label} [{v['variant']}]",
                        f"p50 {ms(lat['p50'])}, p99 {ms(lat['p99'])}"])
    return out


if __name__ == "__main__":
    print(json.dumps(run(Options()), indent=2, default=str))
