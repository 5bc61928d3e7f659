"""Load generators, each run as a separate process so the client does not share the
server's interpreter (and, on a small machine, competes for cores only as a process).

* ``wrk`` (Debian package ``wrk``): preferred, C, negligible client overhead. A generated
  Lua script sets method/headers/body and prints the summary as one JSON line.
* the fallback: an httpx + asyncio closed-loop client, ``python -m benchmarks._loadgen``,
  used when wrk is not installed. It is far heavier per request than wrk, so on a
  2-core machine its figures are a lower bound for the server.

Both report the same dict: requests, duration_s, requests_per_s, errors and latency in
seconds (mean, p50, p75, p90, p99, max), closed loop with ``connections`` keep-alive
connections each sending its next request as soon as the previous one is answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_MARK = "WRKJSON "


@dataclass(frozen=True)
class Request:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # If set, every request replaces this token in the body with a value unique to the run
    # and the request (e.g. an HL7 MSH-10, so the gateway's de-duplication does not kick in).
    unique_token: str | None = None


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0].strip()


def _lua_string(value: str) -> str:
    level = 1
    while f"]{'=' * level}]" in value:
        level += 1
    eq = "=" * level
    return f"[{eq}[{value}]{eq}]"


def wrk_script(request: Request) -> str:
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    for name, value in request.headers.items():
        lines.append(f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}")
    if request.body is not None and request.unique_token:
        nonce = uuid.uuid4().hex[:8]
        lines.append(f"local template = {_lua_string(request.body)}")
        lines.append(f"local token = {_lua_string(request.unique_token)}")
        lines.append("""
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local counter = 0
function request()
  counter = counter + 1
  local value = "NONCE" .. tostring(tid) .. "x" .. tostring(counter)
  local body = string.gsub(template, token, value)
  return wrk.format(nil, nil, nil, body)
end
""".replace("NONCE", nonce))
    elif request.body is not None:
        lines.append(f"wrk.body = {_lua_string(request.body)}")
    lines.append(WRK_DONE)
    return "\n".join(lines)


# latency in microseconds; %.0f / %f because LuaJIT's %d rejects non-integral numbers.
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('%s{"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latency_us":{"min":%.0f,"mean":%f,"stdev":%f,"p50":%.0f,"p75":%.0f,"p90":%.0f,' ..
    '"p99":%.0f,"max":%.0f}}\\n', "WRKJSON ",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(request: Request, *, connections: int, duration: float,
            threads: int = 1, script_text: str | None = None) -> dict[str, Any]:
    """wrk with one thread (one core for the client, the other for the server).

    ``script_text`` replaces the generated request script (it must keep ``done``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text if script_text is not None else wrk_script(request))
    try:
        cpu_before = _children_cpu()
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
             "--timeout", "10s", "-s", script.name, request.url],
            capture_output=True, text=True, timeout=duration + 60)
        cpu = _children_cpu() - cpu_before
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(WRK_MARK)), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-1500:]} "
                           f"{out.stderr[-1500:]}")
    raw = json.loads(line[len(WRK_MARK):])
    seconds = raw["duration_us"] / 1e6
    lat = {k: v / 1e6 for k, v in raw["latency_us"].items()}
    errors = raw["errors"]
    return {"tool": "wrk", "requests": int(raw["requests"]), "duration_s": seconds,
            "requests_per_s": raw["requests"] / seconds if seconds else 0.0,
            "errors": {k: int(v) for k, v in errors.items()},
            "error_count": int(sum(errors.values())),
            "latency_s": lat, "client_cpu_s": cpu, "bytes": int(raw["bytes"])}


def run_httpx(request: Request, *, connections: int, duration: float) -> dict[str, Any]:
    """The fallback client, in its own interpreter."""
    cpu_before = _children_cpu()
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._loadgen", "--connections", str(connections),
         "--duration", str(duration)],
        input=json.dumps(request.__dict__), capture_output=True, text=True,
        timeout=duration + 60, cwd=Path(__file__).resolve().parent.parent)
    cpu = _children_cpu() - cpu_before
    if out.returncode != 0:
        raise RuntimeError(f"httpx load generator failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    result["client_cpu_s"] = cpu
    return result


def run_load(request: Request, *, tool: str, connections: int, duration: float) -> dict[str, Any]:
    if tool == "wrk":
        return run_wrk(request, connections=connections, duration=duration)
    return run_httpx(request, connections=connections, duration=duration)


# ------------------------------------------------------------------ the httpx client itself


async def _closed_loop(request: Request, connections: int, duration: float) -> dict[str, Any]:
    import httpx

    from benchmarks._support import percentile

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    failures = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    content = request.body.encode() if request.body is not None else None
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                body = content
                if request.unique_token and request.body is not None:
                    body = request.body.replace(request.unique_token,
                                                uuid.uuid4().hex[:16]).encode()
                try:
                    response = await client.request(request.method, request.url,
                                                    headers=request.headers, content=body)
                    await response.aread()
                except httpx.HTTPError:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                key = str(response.status_code)
                statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    bad_status = sum(n for code, n in statuses.items() if not code.startswith(("2", "3")))
    lat: dict[str, float] = {}
    if latencies:
        lat = {"min": min(latencies), "mean": sum(latencies) / len(latencies),
               "p50": percentile(latencies, 50), "p75": percentile(latencies, 75),
               "p90": percentile(latencies, 90), "p99": percentile(latencies, 99),
               "max": max(latencies)}
    return {"tool": "httpx", "requests": len(latencies), "duration_s": elapsed,
            "requests_per_s": len(latencies) / elapsed if elapsed else 0.0,
            "errors": {"transport": failures, "status": bad_status},
            "error_count": failures + bad_status, "statuses": statuses, "latency_s": lat}


def main() -> None:
    parser = argparse.ArgumentParser(description="closed-loop httpx load generator "
                                                 "(request as JSON on stdin)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    request = Request(**json.loads(sys.stdin.read()))
    coroutine = _closed_loop(request, args.connections, args.duration)
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(coroutine)))
    else:
        print(json.dumps(uvloop.run(coroutine)))


if __name__ == "__main__":
    main()
