"""lab_alert_fanout: critical HL7 results to live GraphQL subscribers (``labAlertRaised``
over graphql-transport-ws), against a real gateway process.

For SQLite and (if reachable) PostgreSQL: ``python cli.py serve`` (in-process outbox worker,
escalation off), ``SUBSCRIBERS`` WebSocket subscribers (clinician tokens, no facility filter)
in the driver's process. Two phases:

* latency: ``PACED`` critical ORU^R01 messages posted one at a time (``POST
  /api/lab/hl7-ingest``, a new patient each), 20 ms apart; per (alert, subscriber), the time
  from the start of the POST to the event's receipt, p50/p99;
* throughput: ``BURST`` messages posted by ``CLIENTS`` concurrent clients; events delivered
  per second to all subscribers (events received over the time from the first POST to the
  last receipt).

Every event is checked to reach every subscriber once. Each event delivered is audited
(one audit row per subscriber per event), which is part of the cost measured.

    python -m benchmarks lab_alert_fanout
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from benchmarks._support import (
    GatewayProcess,
    Options,
    cli,
    ms,
    percentile,
    running_gateway,
    scratch_dir,
    write_result,
)
from benchmarks.http_throughput import _pg_admin_dsn, _postgres_problem, fresh_postgres_database
from tests.lab_alerts.ws import SUBSCRIPTION, ws_url

NAME = "lab_alert_fanout"
SUBSCRIBERS = 10
PACED = 100
BURST = 400
CLIENTS = 8
MESSAGE = (
    "MSH|^~\\&|LIS|KNH_LAB|CARI|CARI|20260415120000||ORU^R01|{id}|P|2.5\r"
    "PID|1||{pid}||BENCH^ALERT{n}||19880214|F\r"
    "OBR|1||ORD-{id}|BMP^Basic metabolic panel|||20260415110000|||||||||DR7^Kamau^Peter\r"
    "OBX|1|NM|2823-3^Potassium^LN||7.1|mmol/L|3.5-5.1|HH|||F")


@dataclass
class Receipts:
    by_result: dict[str, list[float]] = field(default_factory=dict)  # lab result -> receipts
    count: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, result_id: str) -> None:
        self.by_result.setdefault(result_id, []).append(time.perf_counter())
        self.count += 1
        self.changed.set()

    async def until(self, count: int, wait_seconds: float) -> None:
        deadline = time.perf_counter() + wait_seconds
        while self.count < count and time.perf_counter() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1)


async def _subscribe(base_url: str, token: str, receipts: Receipts,
                     ready: asyncio.Event, stop: asyncio.Event) -> None:
    async with websockets.connect(ws_url(base_url),  # type: ignore[list-item]
                                  subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIPTION, "variables": {}}}))
        ready.set()
        reading = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            receiving = asyncio.ensure_future(socket.recv())
            done, _ = await asyncio.wait({receiving, reading}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                break
            message = json.loads(receiving.result())
            if message["type"] == "next" and message["payload"].get("data"):
                receipts.add(message["payload"]["data"]["labAlertRaised"]["labResultId"])
            elif message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))


async def _post(client: httpx.AsyncClient, token: str, tag: str, n: int) -> tuple[str, float]:
    started = time.perf_counter()
    r = await client.post("/api/lab/hl7-ingest", content=MESSAGE.format(
        id=f"{tag}{n}", pid=f"{tag}-P{n}", n=n).encode(), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
    r.raise_for_status()
    return str(r.json()["data"]["lab_result_id"]), started


async def _scenario(gateway: GatewayProcess, database: str) -> dict[str, Any]:
    lab = cli(gateway.env, "token", "--sub", "bench-lab", "--roles", "lab")
    clinician = cli(gateway.env, "token", "--sub", "bench-dr", "--roles", "clinician")
    receipts = Receipts()
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(SUBSCRIBERS)]
    tasks = [asyncio.create_task(_subscribe(gateway.base_url, clinician, receipts, r, stop))
             for r in readies]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
        posted: dict[str, float] = {}
        for n in range(PACED):
            result_id, started = await _post(client, lab, "L", n)
            posted[result_id] = started
            await asyncio.sleep(0.02)
        await receipts.until(PACED * SUBSCRIBERS, 60)
        latencies = [at - posted[r] for r, ats in receipts.by_result.items() for at in ats]
        paced_complete = all(len(receipts.by_result.get(r, [])) == SUBSCRIBERS for r in posted)

        before = receipts.count
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(BURST):
            queue.put_nowait(n)
        burst_ids: list[str] = []

        async def worker() -> None:
            while not queue.empty():
                result_id, _ = await _post(client, lab, "B", queue.get_nowait())
                burst_ids.append(result_id)

        burst_started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        posted_in = time.perf_counter() - burst_started
        await receipts.until(before + BURST * SUBSCRIBERS, 120)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    last = max(at for r in burst_ids for at in receipts.by_result.get(r, [burst_started]))
    delivered = sum(len(receipts.by_result.get(r, [])) for r in burst_ids)
    result: dict[str, Any] = {
        "database": database, "subscribers": SUBSCRIBERS,
        "paced": {"alerts": PACED, "every_subscriber_got_each": paced_complete,
                  "latency_s": {"p50": percentile(latencies, 50),
                                "p99": percentile(latencies, 99), "max": max(latencies)}},
        "burst": {"alerts": BURST, "clients": CLIENTS, "events_delivered": delivered,
                  "expected": BURST * SUBSCRIBERS, "posted_seconds": posted_in,
                  "span_seconds": last - burst_started,
                  "events_per_s": delivered / (last - burst_started),
                  "alerts_per_s": BURST / (last - burst_started)},
    }
    lat, burst = result["paced"]["latency_s"], result["burst"]
    print(f"[{NAME}] {database}: HL7 POST -> subscription event p50 {ms(lat['p50'])}, p99 "
          f"{ms(lat['p99'])} ({PACED} alerts x {SUBSCRIBERS} subscribers); burst of {BURST}: "
          f"{burst['events_per_s']:.0f} events/s to {SUBSCRIBERS} subscribers "
          f"({burst['alerts_per_s']:.0f} alerts/s, {delivered}/{BURST * SUBSCRIBERS} "
          "delivered)")
    return result


def run(options: Options) -> dict[str, Any]:
    env = {"CARI_LOG_LEVEL": "WARNING", "CARI_OUTBOX_POLL_SECONDS": "0.2",
           "CARI_LAB_ALERT_ESCALATE_SECONDS": "0"}
    scenarios: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with scratch_dir(NAME, options.keep) as scratch:
        with running_gateway(scratch / "sqlite", scratch, **env) as gateway:
            scenarios.append(asyncio.run(_scenario(gateway, "sqlite")))
        problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if problem is None:
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **env) as gateway:
                scenarios.append(asyncio.run(_scenario(gateway, "postgresql")))
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        else:
            print(f"[{NAME}] PostgreSQL scenario skipped: {problem}")
            skipped.append({"database": "postgresql", "reason": problem})
    result = {"params": {"subscribers": SUBSCRIBERS, "paced": PACED, "burst": BURST,
                         "clients": CLIENTS,
                         "server": "python cli.py serve (1 uvicorn worker, in-process outbox "
                                   "worker)", "subscribers_in": "the driver's process"},
              "scenarios": scenarios, "skipped": skipped}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        lat, burst = s["paced"]["latency_s"], s["burst"]
        out.append([NAME, f"HL7 -> {s['subscribers']} subscribers [{s['database']}]",
                    f"p50 {ms(lat['p50'])}, p99 {ms(lat['p99'])}; {burst['events_per_s']:.0f} "
                    f"events/s ({burst['events_delivered']}/{burst['expected']})"])
    for s in result["skipped"]:
        out.append([NAME, f"[{s['database']}]", f"skipped: {s['reason']}"])
    return out


if __name__ == "__main__":
    run(Options())
