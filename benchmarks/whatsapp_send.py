"""whatsapp_send: scheduled WhatsApp messages drained per second against the fake Graph API
(tests/messaging/fake_graph.py, served in the driver), and signed webhook intake req/s.

For SQLite and (if reachable) PostgreSQL, a gateway process (``python cli.py serve``, its
sender on) configured for WhatsApp against the fake:

1. drain: 2,000 template messages scheduled over REST (8 clients) for one opted-in patient,
   ``send_at`` 100 s ahead so they are all stored first; measured from the first to
   the last message the fake accepted, at CARI_WHATSAPP_MESSAGES_PER_SECOND=1000 (the
   gateway's own ceiling; the default 80/s is Meta's) with the pair spacing off;
2. intake: 2,000 signed POST /api/webhooks/whatsapp (each 5 status items: 10,000 inbox
   events) at 8 connections: requests/s and p50/p99 of the answer.

    python -m benchmarks whatsapp_send
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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
from tests.messaging.fake_graph import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    WABA_ID,
    FakeGraph,
)
from tests.support import free_port, serving_app

NAME = "whatsapp_send"
MESSAGES = 2000
POSTS = 2000
ITEMS_PER_POST = 5
CLIENTS = 8
RATE = 1000
SCHEDULE_AHEAD = 100
PHONE = "+254711000111"


async def _drain(gateway: GatewayProcess, graph: FakeGraph) -> dict[str, Any]:
    integrator = cli(gateway.env, "token", "--sub", "bench", "--roles", "integrator")
    clinician = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
    graph.add_template("appointment_reminder", "en", "Hello {{1}}, at {{2}}.")
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
        (await client.post("/api/notifications/templates/sync",
                           headers={"Authorization": f"Bearer {integrator}"})).raise_for_status()
        auth = {"Authorization": f"Bearer {clinician}"}
        patient = (await client.post("/api/patients", headers=auth, json={
            "family": "Bench", "phone": PHONE, "identifiers": [
                {"system": "urn:bench:mrn", "value": f"wa-{time.time_ns()}"}]})).json()["data"]
        (await client.put(f"/api/patients/{patient['id']}/messaging-consent", headers=auth,
                          json={"state": "opted_in"})).raise_for_status()
        # Far enough ahead that every message is stored before the first is due: the drain
        # is measured alone, not against the scheduling requests.
        send_at = (datetime.now(UTC) + timedelta(seconds=SCHEDULE_AHEAD)).isoformat()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(MESSAGES):
            queue.put_nowait(n)

        async def schedule() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                r = await client.post("/api/notifications", headers=auth, json={
                    "patient_id": patient["id"], "template": "appointment_reminder",
                    "language": "en", "params": [f"P{n}", "10:30"], "send_at": send_at,
                    "key": f"bench-{n}"})
                r.raise_for_status()

        started = time.time()
        await asyncio.gather(*(schedule() for _ in range(CLIENTS)))
        scheduled_s = time.time() - started
        if scheduled_s > SCHEDULE_AHEAD:
            print(f"[{NAME}] scheduling took {scheduled_s:.0f} s, longer than the "
                  f"{SCHEDULE_AHEAD} s ahead: the drain overlapped it")
        for _ in range(6000):  # at most 10 minutes
            if len(graph.accepted) >= MESSAGES:
                break
            await asyncio.sleep(0.1)
    times = sorted(a.at for a in graph.accepted)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    distinct = len({a.body["biz_opaque_callback_data"] for a in graph.accepted})
    return {"messages": MESSAGES, "accepted": len(graph.accepted), "distinct": distinct,
            "schedule_seconds": scheduled_s, "schedule_per_s": MESSAGES / scheduled_s,
            "drain_seconds": span, "drained_per_s": (len(times) - 1) / span}


async def _intake(gateway: GatewayProcess, graph: FakeGraph) -> dict[str, Any]:
    bodies = []
    for n in range(POSTS):
        statuses = [graph.status(f"wamid.bench{n}x{i}", "delivered", recipient="254711000111")
                    for i in range(ITEMS_PER_POST)]
        bodies.append(graph.signed(graph.merge(*statuses)))
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(POSTS):
        queue.put_nowait(n)
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
        async def post() -> None:
            while not queue.empty():
                raw, headers = bodies[queue.get_nowait()]
                t0 = time.perf_counter()
                r = await client.post("/api/webhooks/whatsapp", content=raw, headers=headers)
                latencies.append(time.perf_counter() - t0)
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return {"posts": POSTS, "items_per_post": ITEMS_PER_POST, "seconds": elapsed,
            "requests_per_s": POSTS / elapsed, "items_per_s": POSTS * ITEMS_PER_POST / elapsed,
            "latency_s": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}}


def _env(graph_port: int) -> dict[str, str]:
    return {"CARI_LOG_LEVEL": "WARNING", "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1",
            "CARI_WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "CARI_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "CARI_WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID,
            "CARI_WHATSAPP_APP_SECRET": APP_SECRET, "CARI_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "CARI_WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{graph_port}",
            "CARI_WHATSAPP_MESSAGES_PER_SECOND": str(RATE),
            "CARI_WHATSAPP_PAIR_INTERVAL_SECONDS": "0", "CARI_WHATSAPP_DEFAULT_COUNTRY": "KE",
            "CARI_RATE_LIMIT_PER_MINUTE": "0", "CARI_RATE_LIMIT_WEBHOOK_PER_MINUTE": "0"}


def _scenario(database: str, graph_port: int, gateway: GatewayProcess) -> dict[str, Any]:
    async def both() -> dict[str, Any]:
        graph = FakeGraph(pair_burst=10**9, throughput=10**9)
        async with serving_app(graph.app(), port=graph_port) as base_url:
            graph.base_url = base_url
            drain = await _drain(gateway, graph)
            intake = await _intake(gateway, graph)
        return {"database": database, "drain": drain, "intake": intake}

    result = asyncio.run(both())
    d, i = result["drain"], result["intake"]
    print(f"[{NAME}] {database}: {d['accepted']:,}/{d['messages']:,} scheduled messages "
          f"drained at {d['drained_per_s']:.0f}/s (cap {RATE}/s; {d['distinct']:,} distinct); "
          f"scheduled over REST at {d['schedule_per_s']:.0f}/s; webhook intake "
          f"{i['requests_per_s']:.0f} req/s ({i['items_per_s']:.0f} items/s), p50 "
          f"{ms(i['latency_s']['p50'])}, p99 {ms(i['latency_s']['p99'])}")
    return result


def run(options: Options) -> dict[str, Any]:
    scenarios: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with scratch_dir(NAME, options.keep) as scratch:
        port = free_port()
        with running_gateway(scratch / "sqlite", scratch, **_env(port)) as gateway:
            scenarios.append(_scenario("sqlite", port, gateway))
        problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if problem is None:
            port = free_port()
            with fresh_postgres_database() as url, \
                    running_gateway(scratch / "pg", scratch, CARI_DATABASE_URL=url,
                                    **_env(port)) as gateway:
                scenarios.append(_scenario("postgresql", port, gateway))
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable at {_pg_admin_dsn()}: {problem}")
        else:
            skipped.append({"database": "postgresql", "reason": problem})
    result = {"params": {"messages": MESSAGES, "posts": POSTS, "items_per_post": ITEMS_PER_POST,
                         "clients": CLIENTS, "messages_per_second_cap": RATE},
              "scenarios": scenarios, "skipped": skipped}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["scenarios"]:
        d, i = s["drain"], s["intake"]
        out.append([NAME, f"drain {d['messages']:,} scheduled [{s['database']}]",
                    f"{d['drained_per_s']:.0f} messages/s (cap {RATE}/s)"])
        out.append([NAME, f"webhook intake, {ITEMS_PER_POST} items/POST [{s['database']}]",
                    f"{i['requests_per_s']:.0f} req/s, p50 {ms(i['latency_s']['p50'])}, "
                    f"p99 {ms(i['latency_s']['p99'])}"])
    for s in result["skipped"]:
        out.append([NAME, f"[{s['database']}]", f"skipped: {s['reason']}"])
    return out


if __name__ == "__main__":
    run(Options())
