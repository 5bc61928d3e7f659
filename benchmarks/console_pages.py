"""Console pages with 102,000 messages in the log: p50/p95/p99 of each page's HTTP answer.

A gateway process (``python cli.py serve``) on SQLite and (if reachable) PostgreSQL, over
a database seeded in bulk (multi-row Core inserts after ``cli.py migrate``): 90,000 lab
messages over the last seven days (three HL7 channels, 40 senders, linked/review/
unmatched), 2,000 refused reuses of a control id, 2,000 messages refused before storage
(unparseable HL7 and bad webhook signatures), 8,000 webhook events (four providers, some
failed), 20,000 outbox deliveries. The driver signs in through the console's form
with an integrator token, then asks each page in turn (sequential requests on one
keep-alive connection, so the figures are unloaded answer times): the message log
unfiltered, filtered by channel and status, by sender, by control id, a page deep in the
past (keyset cursor), one message opened (a different one each time: its audit row is
written too), and the overview per window. The overview keeps its figures 10 s / 30 s /
60 s per window and answers day and week from the last figures while it recomputes them
(resolvers/operations/traffic/stats.py), so its first answer per window is reported apart
from the later ones, and the SQL it runs when the figures are due
(SqlTrafficStore.buckets) is timed on its own, in process, 10 times per window.

    python -m benchmarks console_pages
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from adapters.db.engine import create_engine
from adapters.db.tables import LabMessageConflictRow, LabResultRow, OutboxRow
from adapters.db.tables_refused import RefusedMessageRow
from adapters.db.tables_webhooks import WebhookEventRow
from adapters.db.traffic import SqlTrafficStore
from benchmarks._console import measure, sign_in
from benchmarks._support import (
    Options,
    cli,
    free_port,
    gateway_env,
    ms,
    percentile,
    running_gateway,
    scratch_dir,
    table,
    write_result,
)
from benchmarks.http_throughput import _postgres_problem, fresh_postgres_database
from resolvers.operations.traffic.records import WINDOWS, Window

NAME = "console_pages"
LAB_MESSAGES = 90_000
CONFLICTS = 2_000
REFUSED = 2_000
WEBHOOKS = 8_000
OUTBOX = 20_000
REQUESTS = 200  # per page
RAW = ("MSH|^~\\&|LIS|{facility}|CARI|CARI|20261201083000||ORU^R01^ORU_R01|{control}|P|2.5\r"
       "PID|1||MRN{n}^^^{facility}^MR||SURNAME{n}^GIVEN||19800101|F\r"
       "OBR|1||ORD{n}|24323-8^Metabolic panel^LN|||20261201071500\r"
       "OBX|1|NM|2823-3^Potassium^LN||4.{d}|mmol/L|3.5-5.1|N|||F\r"
       "OBX|2|NM|2951-2^Sodium^LN||14{d}|mmol/L|135-145|N|||F")


async def seed(database_url: str, now: datetime) -> tuple[dict[str, int], list[str]]:
    """Bulk inserts through SQLAlchemy Core (the gateway's own column types), both dialects."""
    rng = random.Random(7)
    week = 7 * 24 * 3600

    def when() -> datetime:
        return now - timedelta(seconds=rng.uniform(0, week))

    lab: list[dict[str, Any]] = [{"id": str(uuid.uuid4()), "sending_facility": f"LAB_{n % 40:02d}",
            "control_id": f"C{n:07d}", "received_at": when(), "patient_id": str(uuid.uuid4()),
            "match_grade": "certain", "match_score": 0.99, "encounter_id": None,
            "status": rng.choice(("linked",) * 8 + ("review", "unmatched")),
            "observations_created": 2, "critical_count": 0, "report_ids": [],
            "observation_ids": [],
            "raw_message": RAW.format(facility=f"LAB_{n % 40:02d}", control=f"C{n:07d}", n=n,
                                      d=n % 10),
            "channel": rng.choice(("hl7-http",) * 6 + ("hl7-mllp",) * 3 + ("hl7-graphql",))}
           for n in range(LAB_MESSAGES)]
    conflicts = [{"id": str(uuid.uuid4()), "sending_facility": f"LAB_{n % 40:02d}",
                  "control_id": f"C{n:07d}", "first_result_id": str(uuid.uuid4()),
                  "received_at": when(), "received_by": "lab-system",
                  "raw_message": RAW.format(facility=f"LAB_{n % 40:02d}", control=f"C{n:07d}",
                                            n=n, d=9)} for n in range(CONFLICTS)]
    refused = [{"id": str(uuid.uuid4()), "received_at": when(),
                "channel": rng.choice(("hl7-http", "hl7-mllp", "webhook:stripe")),
                "sender": f"LAB_{n % 40:02d}", "control_id": f"R{n:07d}",
                "message_type": "ORU^R01", "reason": "MSH-9 is missing",
                "answer": "HTTP 400", "body": "MSH|^~\\&|LIS|broken", "body_truncated": False,
                "size": 22, "sha256": "0" * 64} for n in range(REFUSED)]
    providers = ("stripe", "mpesa", "resend", "livekit")
    hooks = []
    for n in range(WEBHOOKS):
        at = when()
        status = rng.choice(("processed",) * 9 + ("failed",))
        hooks.append({"id": str(uuid.uuid4()), "provider": providers[n % 4],
                      "event_id": f"evt_{n}", "event_type": "event.happened", "subject_id": None,
                      "payload": {"id": f"evt_{n}", "amount": n}, "status": status,
                      "attempts": 1, "last_error": "handler error" if status == "failed" else None,
                      "received_at": at,
                      "processed_at": at + timedelta(milliseconds=rng.uniform(5, 80))})
    destinations = ("medplum", "webhook_delivery", "dhis2", "lab_alerts")
    outbox = []
    for n in range(OUTBOX):
        at = when()
        dead = n % 50 == 0
        outbox.append({"id": str(uuid.uuid4()), "destination": destinations[n % 4],
                       "payload": {}, "idempotency_key": f"k{n}",
                       "status": "dead" if dead else "delivered", "attempts": 1,
                       "next_attempt_at": at, "lease_until": None, "claim_token": None,
                       "last_error": "refused" if dead else None, "created_at": at,
                       "delivered_at": None if dead else
                       at + timedelta(milliseconds=rng.uniform(20, 900))})
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            tables: list[tuple[Any, list[dict[str, Any]]]] = [
                (LabResultRow, lab), (LabMessageConflictRow, conflicts),
                (RefusedMessageRow, refused), (WebhookEventRow, hooks), (OutboxRow, outbox)]
            for table, rows in tables:
                target = table.__table__
                for i in range(0, len(rows), 5000):
                    await conn.execute(insert(target), rows[i:i + 5000])
            if engine.dialect.name == "postgresql":
                await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return ({"lab_results": LAB_MESSAGES, "conflicts": CONFLICTS, "refused": REFUSED,
             "webhook_events": WEBHOOKS,
             "outbox_messages": OUTBOX}, [str(r["id"]) for r in lab[:2000]])


async def _traffic_sql(database_url: str, now: datetime) -> dict[str, dict[str, Any]]:
    """The overview's SQL alone (what a request pays when the cached figures are due)."""
    engine = create_engine(database_url)
    store = SqlTrafficStore(engine)
    out = {}
    try:
        for window in Window:
            length, width = WINDOWS[window]
            times = []
            for _ in range(10):
                started = time.perf_counter()
                await store.buckets(now - length, width)
                times.append(time.perf_counter() - started)
            out[f"overview {window.value} SQL (in process)"] = {
                "n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
                "p99": percentile(times, 99)}
    finally:
        await engine.dispose()
    return out


def _measure_database(scratch: Path, database: str, url: str | None) -> dict[str, Any]:
    data_dir = scratch / database
    data_dir.mkdir()
    extra = {"CARI_DATABASE_URL": url} if url else {}
    env = gateway_env(data_dir, free_port(), CARI_LOG_LEVEL="WARNING", **extra)
    cli(env, "migrate")
    database_url = url or f"sqlite+aiosqlite:///{(data_dir / 'cari.sqlite3').resolve()}"
    now = datetime.now(UTC)
    started = time.perf_counter()
    seeded, ids = asyncio.run(seed(database_url, now))
    seed_s = time.perf_counter() - started
    print(f"[{NAME}] {database}: seeded {LAB_MESSAGES + CONFLICTS + REFUSED + WEBHOOKS:,} messages and "
          f"{OUTBOX:,} outbox rows in {seed_s:.1f} s")
    deep = (now - timedelta(days=5)).isoformat()
    pages: dict[str, dict[str, Any]] = {}
    with running_gateway(data_dir, scratch, CARI_LOG_LEVEL="WARNING", **extra) as gateway:
        token = cli(gateway.env, "token", "--sub", "bench-operator", "--roles", "integrator")
        with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
            sign_in(client, token)
            for window in ("hour", "day", "week"):
                pages[f"overview {window} (first)"] = measure(
                    client, [f"/console/overview?window={window}"])
                pages[f"overview {window} (later)"] = measure(
                    client, [f"/console/overview?window={window}"] * REQUESTS)
            cases = {
                "messages (newest)": "/console/messages",
                "messages channel=hl7-mllp status=review":
                    "/console/messages?channel=hl7-mllp&status=review",
                "messages sender=LAB_07": "/console/messages?sender=LAB_07",
                "messages control_id": "/console/messages?control_id=C0012345",
                "messages webhook failed": "/console/messages?channel=webhook&status=failed",
                "messages refused": "/console/messages?status=refused",
                "messages 5 days back (cursor)":
                    "/console/messages?" + str(httpx.QueryParams({"after": f"{deep}|~"})),
            }
            for label, path in cases.items():
                measure(client, [path] * 5)  # warm
                pages[label] = measure(client, [path] * REQUESTS)
            pages["message opened (masked, audited)"] = measure(
                client, [f"/console/messages/{ids[i % len(ids)]}" for i in range(REQUESTS)])
    pages.update(asyncio.run(_traffic_sql(database_url, now)))
    for label, p in pages.items():
        print(f"[{NAME}] {database} {label}: p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, "
              f"p99 {ms(p['p99'])} (n={p['n']})")
    return {"database": database, "seeded": seeded, "seed_seconds": seed_s, "pages": pages}


def run(options: Options) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with scratch_dir(NAME, options.keep) as scratch:
        runs.append(_measure_database(scratch, "sqlite", None))
        problem = "--postgres skip" if options.postgres == "skip" else _postgres_problem()
        if problem is None:
            with fresh_postgres_database() as url:
                runs.append(_measure_database(scratch, "postgresql", url))
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL required but unavailable: {problem}")
        else:
            skipped.append({"database": "postgresql", "reason": problem})
    result = {"requests_per_page": REQUESTS, "runs": runs, "skipped": skipped}
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = [[NAME, f"{label} [{r['database']}, 100k messages]",
            f"p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])} (n={p['n']})"]
           for r in result["runs"] for label, p in r["pages"].items()]
    return out + [[NAME, f"[{s['database']}]", f"skipped: {s['reason']}"]
                  for s in result["skipped"]]


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
