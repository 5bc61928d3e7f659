"""webhook_fanout: 1,000 events fanned out to 10 subscribed endpoints (10,000 signed
deliveries) against a real gateway and a local receiver.

For SQLite and (if reachable) PostgreSQL: a gateway process (``python cli.py serve``, its
in-process outbox worker on) with 10 endpoints subscribed to ``fhir.resource.*``, each a path
of one local receiver (uvicorn, in the driver's process, answering 200 at once). The events
are the ``fhir.resource.created`` of 1,000 patients created over REST by 8 concurrent
clients. Measured: deliveries per second (10,000 over the time from the first event to the
last delivery) and end-to-end latency per delivery (receipt at the receiver minus the
event's ``timestamp``, both on this machine's clock), p50/p99. A sample of deliveries is
verified with svix; the run checks that every endpoint got every event once.

    python -m benchmarks webhook_fanout
    python -m benchmarks.webhook_fanout
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from svix.webhooks import Webhook, WebhookVerificationError

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
from tests.support import serving_app

NAME = "webhook_fanout"
EVENTS = 1000
ENDPOINTS = 10
CLIENTS = 8


@dataclass
class Receipts:
    """What the receiver got: per endpoint path, (webhook-id, receipt time, event time)."""

    got: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    samples: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    expected: int = EVENTS * ENDPOINTS
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.got.values())

    async def handle(self, request: Request) -> Response:
        received = time.time()
        body = await request.body()
        name = request.path_params["name"]
        sent = datetime.fromisoformat(json.loads(body)["timestamp"]).timestamp()
        self.got.setdefault(name, []).append((request.headers["webhook-id"], received, sent))
        if len(self.samples) < 50:
            self.samples.append((name, body, dict(request.headers)))
        if self.count >= self.expected:
            self.complete.set()
        return Response(status_code=204)


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@contextlib.asynccontextmanager
async def _receiver() -> AsyncIterator[tuple[str, Receipts]]:
    receipts = Receipts()
    app = Starlette(routes=[Route("/hooks/{name}", receipts.handle, methods=["POST"])])
    async with serving_app(app) as base_url:
        yield base_url, receipts


async def _scenario(gateway: GatewayProcess, database: str) -> dict[str, Any]:
    admin = cli(gateway.env, "token", "--sub", "bench", "--roles", "admin")
    clinician = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
    async with _receiver() as (base_url, receipts), \
            httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
        secrets: dict[str, str] = {}
        for i in range(ENDPOINTS):
            r = await client.post("/api/webhooks/endpoints", headers={
                "Authorization": f"Bearer {admin}"}, json={
                "url": f"{base_url}/hooks/e{i}", "event_types": ["fhir.resource.*"]})
            r.raise_for_status()
            secrets[f"e{i}"] = r.json()["data"]["secret"]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(EVENTS):
            queue.put_nowait(n)

        async def create() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                r = await client.post("/api/patients", headers={
                    "Authorization": f"Bearer {clinician}"}, json={
                    "family": f"Fanout{n}", "identifiers": [
                        {"system": "urn:bench:mrn", "value": f"{database}-{n}"}]})
                r.raise_for_status()

        started = time.time()
        await asyncio.gather(*(create() for _ in range(CLIENTS)))
        created = time.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receipts.complete.wait(), 600)
    rows = [row for rows in receipts.got.values() for row in rows]
    first_event = min(sent for _id, _at, sent in rows)
    last = max(at for _id, at, _sent in rows)
    latencies = [at - sent for _id, at, sent in rows]
    per_endpoint = {name: len({wid for wid, _a, _s in got}) for name, got in receipts.got.items()}
    verified = sum(_verifies(secrets[name], body, headers)
                   for name, body, headers in receipts.samples)
    result: dict[str, Any] = {
        "database": database, "events": EVENTS, "endpoints": ENDPOINTS,
        "deliveries": len(rows), "distinct_per_endpoint": per_endpoint,
        "duplicates": len(rows) - sum(per_endpoint.values()),
        "create_seconds": created - started, "span_seconds": last - first_event,
        "deliveries_per_s": len(rows) / (last - first_event),
        "latency_s": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                      "max": max(latencies)},
        "signatures_verified": verified,
    }
    lat = result["latency_s"]
    print(f"[{NAME}] {database}: {len(rows):,} deliveries of {EVENTS:,} events to "
          f"{ENDPOINTS} endpoints in {result['span_seconds']:.1f} s: "
          f"{result['deliveries_per_s']:.0f}/s, end-to-end p50 {ms(lat['p50'])}, "
          f"p99 {ms(lat['p99'])} (events created in {result['create_seconds']:.1f} s)")
    return result


def run(options: Options) -> dict[str, Any]:
    env = {"CARI_LOG_LEVEL": "WARNING", "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1",
           "CARI_OUTBOX_POLL_SECONDS": "0.2"}
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
    result = {"params": {"events": EVENTS, "endpoints": ENDPOINTS, "clients": CLIENTS,
                         "server": "python cli.py serve (1 uvicorn worker, in-process outbox "
                                   "worker)", "receiver": "uvicorn in the driver, 204 at once"},
              "scenarios": scenarios, "skipped": skipped}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        lat = s["latency_s"]
        out.append([NAME, f"{s['events']:,} events x {s['endpoints']} endpoints "
                    f"[{s['database']}]",
                    f"{s['deliveries_per_s']:.0f} deliveries/s, end-to-end p50 "
                    f"{ms(lat['p50'])}, p99 {ms(lat['p99'])}; duplicates {s['duplicates']}"])
    for s in result["skipped"]:
        out.append([NAME, f"[{s['database']}]", f"skipped: {s['reason']}"])
    return out


if __name__ == "__main__":
    run(Options())
