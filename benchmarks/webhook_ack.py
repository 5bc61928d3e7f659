"""Webhook acknowledgement: 100 concurrent signed Stripe deliveries against a real gateway.

For SQLite and (if reachable) PostgreSQL: a gateway process (``python cli.py serve``) with
``CARI_STRIPE_WEBHOOK_SECRETS`` set; rounds of 100 distinct events signed with the stripe
SDK are posted at once, then every one of them again (the redeliveries a provider makes).
Reported: acknowledgement latency p50/p99 and deliveries per second. Then the driver waits
for the outbox worker and checks, through the admin API, that nothing was lost (one row per
event, each settled) and nothing was applied twice (each event's handler ran exactly once:
``attempts == 1``, and every redelivery was answered ``duplicate: true``).

    python -m benchmarks webhook_ack
    python -m benchmarks.webhook_ack
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import stripe

from benchmarks._loadgen import WRK_DONE, Request, run_wrk, wrk_available
from benchmarks._support import (
    Options,
    cli,
    ms,
    percentile,
    running_gateway,
    scratch_dir,
    table,
    write_result,
)
from benchmarks.http_throughput import _pg_admin_dsn, _postgres_problem, fresh_postgres_database

NAME = "webhook_ack"
SECRET = "whsec_benchmark_secret_0123456789"
CONCURRENCY = 100
ROUNDS = 5


def _signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
                      "created": int(time.time()), "livemode": False,
                      "data": {"object": {"id": f"pi_{event_id}", "object": "payment_intent",
                                          "amount": 4500, "currency": "kes",
                                          "metadata": {"payment_id": event_id}}}}).encode()
    header = stripe.WebhookSignature.generate_signature_header(raw.decode(), SECRET)
    return raw, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def _post(client: httpx.AsyncClient, raw: bytes,
                headers: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post("/api/webhooks/stripe", content=raw, headers=headers)
    elapsed = time.perf_counter() - started
    body = response.json() if response.status_code == 200 else {}
    return elapsed, response.status_code, body.get("data", {})


async def _wave(client: httpx.AsyncClient,
                deliveries: list[tuple[bytes, dict[str, str]]]) -> tuple[list[Any], float]:
    started = time.perf_counter()
    results = await asyncio.gather(*(_post(client, raw, h) for raw, h in deliveries))
    return list(results), time.perf_counter() - started


async def _settled_events(client: httpx.AsyncClient, token: str, expected: int,
                          deadline_s: float = 120.0) -> tuple[list[dict[str, Any]], float]:
    """Every stored stripe event once none is still waiting for the worker."""
    started = time.perf_counter()
    while True:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"provider": "stripe", "limit": "200", **({"cursor": cursor} if cursor else {})}
            r = await client.get("/api/webhooks/events", params=params,
                                 headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            page = r.json()["data"]
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        waiting = [e for e in items if e["status"] in ("received", "failed")]
        if len(items) >= expected and not waiting:
            return items, time.perf_counter() - started
        if time.perf_counter() - started > deadline_s:
            raise RuntimeError(f"{len(waiting)} of {len(items)} events still unprocessed "
                               f"after {deadline_s:.0f} s")
        await asyncio.sleep(0.2)


async def _scenario(base_url: str, token: str, database: str) -> dict[str, Any]:
    # Idle connections dropped after 2 s, below the gateway's keep-alive (CARI_KEEP_ALIVE_SECONDS,
    # 5 s): with httpx's default of 5 s a connection can be reused as the server closes it,
    # the likely cause of the ReadError that ended one full run.
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY,
                          keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        warm = [_signed(f"evt_warm_{uuid.uuid4().hex[:12]}") for _ in range(20)]
        await _wave(client, warm)
        latencies: list[float] = []
        walls: list[float] = []
        statuses: dict[int, int] = {}
        sent: list[tuple[bytes, dict[str, str]]] = []
        first_ids: dict[str, str] = {}
        for _ in range(ROUNDS):
            wave = [_signed(f"evt_{uuid.uuid4().hex[:16]}") for _ in range(CONCURRENCY)]
            results, wall = await _wave(client, wave)
            walls.append(wall)
            for (raw, _h), (elapsed, status, data) in zip(wave, results, strict=True):
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    first_ids[json.loads(raw)["id"]] = data["id"]
                    assert data["duplicate"] is False
            sent += wave
        # Providers redeliver: the same events again, 100 at a time, freshly signed.
        redelivered_ok = 0
        for start in range(0, len(sent), CONCURRENCY):
            again = [_signed(json.loads(raw)["id"]) for raw, _h in sent[start:start + CONCURRENCY]]
            results, _wall = await _wave(client, again)
            for (raw, _h), (_e, status, data) in zip(again, results, strict=True):
                if (status == 200 and data["duplicate"] is True
                        and data["id"] == first_ids.get(json.loads(raw)["id"])):
                    redelivered_ok += 1
        total = len(sent) + len(warm)
        events, drain_s = await _settled_events(client, token, total)
    ours = {e["event_id"]: e for e in events}
    lost = [i for i in first_ids if i not in ours]
    applied_twice = [e["event_id"] for e in events if e["attempts"] != 1]
    unsettled = [e["event_id"] for e in events if e["status"] not in ("processed", "ignored")]
    result: dict[str, Any] = {
        "database": database, "deliveries": len(latencies), "concurrency": CONCURRENCY,
        "statuses": statuses,
        "latency_s": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                      "max": max(latencies)},
        "deliveries_per_s": len(latencies) / sum(walls),
        "redeliveries": len(sent), "redeliveries_answered_duplicate": redelivered_ok,
        "stored_events": len(events), "drain_after_last_ack_s": drain_s,
        "lost": len(lost), "applied_twice": len(applied_twice), "unsettled": len(unsettled),
    }
    print(f"[{NAME}] {database}: {result['deliveries']} deliveries, {CONCURRENCY} at once: "
          f"p50 {ms(result['latency_s']['p50'])}, p99 {ms(result['latency_s']['p99'])}, "
          f"{result['deliveries_per_s']:.0f}/s; stored {len(events)}, lost {len(lost)}, "
          f"applied twice {len(applied_twice)}, duplicates recognised "
          f"{redelivered_ok}/{len(sent)}; worker drained {drain_s:.1f} s after the last ack")
    if lost or applied_twice or unsettled or redelivered_ok != len(sent) or statuses != {
            200: len(latencies)}:
        raise AssertionError(f"webhook inbox lost or repeated work: {result}")
    return result


def _presigned_script(path: Path, count: int) -> str:
    """A wrk script that posts ``count`` distinct events, each signed once with the stripe
    SDK beforehand (the client must not spend its core on signing during the run)."""
    with path.open("w") as out:
        for _ in range(count):
            raw, headers = _signed(f"evt_{uuid.uuid4().hex[:16]}")
            out.write(f"{headers['Stripe-Signature']}\t{raw.decode()}\n")
    return f"""
local lines = {{}}
for line in io.lines("{path}") do lines[#lines + 1] = line end
local i = 0
wrk.method = "POST"
function request()
  i = i + 1
  local line = lines[((i - 1) % #lines) + 1]
  local tab = string.find(line, "\t", 1, true)
  return wrk.format(nil, "/api/webhooks/stripe", {{["Stripe-Signature"] = string.sub(line, 1, tab - 1),
    ["Content-Type"] = "application/json"}}, string.sub(line, tab + 1))
end
{WRK_DONE}"""


def _sustained(gateway: Any, token: str, database: str, scratch: Path,
               options: Options) -> dict[str, Any]:
    """wrk, 100 connections, closed loop for ``options.duration`` seconds; then every
    acknowledged event must be stored and processed exactly once."""
    before = len(asyncio.run(_all_events(gateway.base_url, token)))
    count = int(max(options.duration, 1) * 4000)  # more than the gateway can take
    script = _presigned_script(scratch / f"presigned-{database}.tsv", count)
    load = run_wrk(Request(url=gateway.base_url + "/api/webhooks/stripe"),
                   connections=CONCURRENCY, duration=options.duration, script_text=script)
    if load["requests"] + CONCURRENCY >= count:
        raise RuntimeError("the pre-signed events ran out: raise the count")
    events, drain_s = asyncio.run(_settled_after(gateway.base_url, token,
                                                 before + load["requests"]))
    new = len(events) - before
    twice = [e["event_id"] for e in events if e["attempts"] != 1]
    # Requests still in flight when wrk stopped may be stored without being counted by it.
    lost = max(0, load["requests"] - new)
    result = {"database": database, "mode": "sustained", "deliveries": load["requests"],
              "concurrency": CONCURRENCY, "deliveries_per_s": load["requests_per_s"],
              "latency_s": load["latency_s"], "errors": load["errors"], "stored_events": new,
              "lost": lost, "applied_twice": len(twice), "drain_after_last_ack_s": drain_s}
    print(f"[{NAME}] {database} sustained (wrk, {CONCURRENCY} connections, "
          f"{options.duration:g} s): {load['requests_per_s']:.0f}/s, p50 "
          f"{ms(load['latency_s']['p50'])}, p99 {ms(load['latency_s']['p99'])}; "
          f"{load['requests']} acknowledged, {new} stored, lost {lost}, applied twice "
          f"{len(twice)}, errors {load['error_count']}")
    if lost or twice or load["error_count"]:
        raise AssertionError(f"webhook inbox lost or repeated work: {result}")
    return result


async def _all_events(base_url: str, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        items, _ = await _settled_events(client, token, 0)
    return items


async def _settled_after(base_url: str, token: str,
                         expected: int) -> tuple[list[dict[str, Any]], float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return await _settled_events(client, token, expected, deadline_s=300.0)


def _measure(gateway: Any, database: str, scratch: Path, options: Options,
             tool: str) -> list[dict[str, Any]]:
    token = cli(gateway.env, "token", "--sub", "bench", "--roles", "admin")
    out = [asyncio.run(_scenario(gateway.base_url, token, database))]
    if tool == "wrk":
        out.append(_sustained(gateway, token, database, scratch, options))
    return out


def run(options: Options) -> dict[str, Any]:
    env = {"CARI_LOG_LEVEL": "WARNING", "CARI_STRIPE_WEBHOOK_SECRETS": SECRET,
           "CARI_OUTBOX_POLL_SECONDS": "0.2"}
    scenarios: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    tool = "wrk" if options.loadgen in ("auto", "wrk") and wrk_available() else "httpx"
    if tool == "httpx":
        print(f"[{NAME}] wrk not installed: the sustained scenario is left out")
    with scratch_dir(NAME, options.keep) as scratch:
        with running_gateway(scratch / "sqlite", scratch, **env) as gateway:
            scenarios += _measure(gateway, "sqlite", scratch, options, tool)
        problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if problem is None:
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **env) as gateway:
                scenarios += _measure(gateway, "postgresql", scratch, options, tool)
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        else:
            print(f"[{NAME}] PostgreSQL scenario skipped: {problem}")
            skipped.append({"database": "postgresql", "reason": problem})
    result = {"params": {"concurrency": CONCURRENCY, "rounds": ROUNDS,
                         "server": "python cli.py serve (1 uvicorn worker, in-process outbox "
                                   "worker)", "client": "httpx.AsyncClient, 100 connections"},
              "scenarios": scenarios, "skipped": skipped}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        lat = s["latency_s"]
        mode = ("sustained, wrk" if s.get("mode") == "sustained"
                else f"waves of {CONCURRENCY}, httpx")
        out.append([NAME, f"100 concurrent Stripe deliveries ({mode}) [{s['database']}]",
                    f"{s['deliveries_per_s']:.0f}/s, p50 {ms(lat['p50'])}, p99 {ms(lat['p99'])};"
                    f" lost {s['lost']}, applied twice {s['applied_twice']}"])
    for s in result["skipped"]:
        mode = ("sustained, wrk" if s.get("mode") == "sustained"
                else f"waves of {CONCURRENCY}, httpx")
        out.append([NAME, f"100 concurrent Stripe deliveries ({mode}) [{s['database']}]", "skipped"])
    return out


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
    sys.exit(0)
