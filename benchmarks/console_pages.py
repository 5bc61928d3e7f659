"""Console pages with 100,000 messages in the log: p50/p95/p99 of each page's HTTP answer.

A gateway process (``python cli.py serve``, SQLite) over a database seeded in bulk (plain
SQL inserts after ``cli.py migrate``): 90,000 lab messages over the last seven days (three
HL7 channels, 40 senders, linked/review/unmatched), 2,000 refused reuses of a control id,
8,000 webhook events (four providers, some failed), 20,000 outbox deliveries. The driver
signs in through the console's form with an integrator token, then asks each page in turn
(sequential requests on one keep-alive connection, so the figures are unloaded answer
times): the message log unfiltered, filtered by channel and status, by sender, by control
id, a page deep in the past (keyset cursor), one message opened (a different one each time:
its audit row is written too), and the overview per window. The overview keeps its figures
10 s / 30 s / 60 s per window (resolvers/operations/traffic/stats.py), so its first answer
per window is reported apart from the steady state, and the SQL it runs when the figures
are due (SqlTrafficStore.buckets) is timed on its own, in process, 10 times per window.

    python -m benchmarks console_pages
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from adapters.db.engine import create_engine
from adapters.db.traffic import SqlTrafficStore
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
from resolvers.operations.traffic.records import WINDOWS, Window

NAME = "console_pages"
LAB_MESSAGES = 90_000
CONFLICTS = 2_000
WEBHOOKS = 8_000
OUTBOX = 20_000
REQUESTS = 200  # per page
RAW = ("MSH|^~\\&|LIS|{facility}|CARI|CARI|20261201083000||ORU^R01^ORU_R01|{control}|P|2.5\r"
       "PID|1||MRN{n}^^^{facility}^MR||SURNAME{n}^GIVEN||19800101|F\r"
       "OBR|1||ORD{n}|24323-8^Metabolic panel^LN|||20261201071500\r"
       "OBX|1|NM|2823-3^Potassium^LN||4.{d}|mmol/L|3.5-5.1|N|||F\r"
       "OBX|2|NM|2951-2^Sodium^LN||14{d}|mmol/L|135-145|N|||F")


def _ts(when: datetime) -> str:
    # How SQLAlchemy stores a UTC datetime on SQLite (naive, microseconds).
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def seed(database: Path, now: datetime) -> tuple[dict[str, int], list[str]]:
    rng = random.Random(7)
    week = 7 * 24 * 3600

    def when() -> str:
        return _ts(now - timedelta(seconds=rng.uniform(0, week)))

    conn = sqlite3.connect(database)
    try:
        conn.executemany(
            "INSERT INTO lab_results (id, sending_facility, control_id, received_at, patient_id,"
            " match_grade, match_score, encounter_id, status, observations_created,"
            " critical_count, report_ids, observation_ids, raw_message, channel)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, 2, 0, '[]', '[]', ?, ?)",
            ((str(uuid.uuid4()), f"LAB_{n % 40:02d}", f"C{n:07d}", when(), str(uuid.uuid4()),
              "certain", 0.99, rng.choice(("linked",) * 8 + ("review", "unmatched")),
              RAW.format(facility=f"LAB_{n % 40:02d}", control=f"C{n:07d}", n=n, d=n % 10),
              rng.choice(("hl7-http",) * 6 + ("hl7-mllp",) * 3 + ("hl7-graphql",)))
             for n in range(LAB_MESSAGES)))
        conn.executemany(
            "INSERT INTO lab_message_conflicts (id, sending_facility, control_id,"
            " first_result_id, received_at, received_by, raw_message)"
            " VALUES (?, ?, ?, ?, ?, 'lab-system', ?)",
            ((str(uuid.uuid4()), f"LAB_{n % 40:02d}", f"C{n:07d}", str(uuid.uuid4()), when(),
              RAW.format(facility=f"LAB_{n % 40:02d}", control=f"C{n:07d}", n=n, d=9))
             for n in range(CONFLICTS)))
        providers = ("stripe", "mpesa", "resend", "livekit")
        rows: list[tuple[Any, ...]] = []
        for n in range(WEBHOOKS):
            at = now - timedelta(seconds=rng.uniform(0, week))
            status = rng.choice(("processed",) * 9 + ("failed",))
            rows.append((str(uuid.uuid4()), providers[n % 4], f"evt_{n}", "event.happened",
                         json.dumps({"id": f"evt_{n}", "amount": n}), status, 1,
                         "handler error" if status == "failed" else None, _ts(at),
                         _ts(at + timedelta(milliseconds=rng.uniform(5, 80)))))
        conn.executemany(
            "INSERT INTO webhook_events (id, provider, event_id, event_type, subject_id, payload,"
            " status, attempts, last_error, received_at, processed_at)"
            " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)", rows)
        destinations = ("medplum", "webhook_delivery", "dhis2", "lab_alerts")
        rows = []
        for n in range(OUTBOX):
            at = now - timedelta(seconds=rng.uniform(0, week))
            dead = n % 50 == 0
            rows.append((str(uuid.uuid4()), destinations[n % 4], "{}", f"k{n}",
                         "dead" if dead else "delivered", 1, _ts(at), _ts(at),
                         None if dead else _ts(at + timedelta(milliseconds=rng.uniform(20, 900)))))
        conn.executemany(
            "INSERT INTO outbox_messages (id, destination, payload, idempotency_key, status,"
            " attempts, next_attempt_at, created_at, delivered_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.commit()
        ids = [r[0] for r in conn.execute("SELECT id FROM lab_results LIMIT 2000")]
    finally:
        conn.close()
    return ({"lab_results": LAB_MESSAGES, "conflicts": CONFLICTS, "webhook_events": WEBHOOKS,
             "outbox_messages": OUTBOX}, ids)


def _sign_in(client: httpx.Client, token: str) -> None:
    form = client.get("/console/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    answer = client.post("/console/sign-in", data={"csrf_token": csrf.group(1),
                                                   "token": token, "next": "/console/"})
    if answer.status_code != 303:
        raise RuntimeError(f"console sign-in failed: {answer.status_code} {answer.text[:300]}")


def _measure(client: httpx.Client, paths: list[str]) -> dict[str, Any]:
    times = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
    return {"n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "p99": percentile(times, 99)}


async def _traffic_sql(database: Path, now: datetime) -> dict[str, dict[str, Any]]:
    """The overview's SQL alone (what a request pays when the cached figures are due)."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
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


def run(options: Options) -> dict[str, Any]:
    pages: dict[str, dict[str, Any]] = {}
    with scratch_dir(NAME, options.keep) as scratch:
        data_dir = scratch / "var"
        data_dir.mkdir()
        env = gateway_env(data_dir, free_port(), CARI_LOG_LEVEL="WARNING")
        cli(env, "migrate")
        now = datetime.now(UTC)
        started = time.perf_counter()
        seeded, ids = seed(data_dir / "cari.sqlite3", now)
        seed_s = time.perf_counter() - started
        print(f"[{NAME}] seeded {LAB_MESSAGES + CONFLICTS + WEBHOOKS:,} messages and "
              f"{OUTBOX:,} outbox rows in {seed_s:.1f} s")
        deep = (now - timedelta(days=5)).isoformat()
        with running_gateway(data_dir, scratch, CARI_LOG_LEVEL="WARNING") as gateway:
            token = cli(gateway.env, "token", "--sub", "bench-operator", "--roles",
                        "integrator")
            with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
                _sign_in(client, token)
                for window in ("hour", "day", "week"):
                    first = _measure(client, [f"/console/overview?window={window}"])
                    pages[f"overview {window} (first, SQL)"] = first
                    pages[f"overview {window} (cached)"] = _measure(
                        client, [f"/console/overview?window={window}"] * REQUESTS)
                cases = {
                    "messages (newest)": "/console/messages",
                    "messages channel=hl7-mllp status=review":
                        "/console/messages?channel=hl7-mllp&status=review",
                    "messages sender=LAB_07": "/console/messages?sender=LAB_07",
                    "messages control_id": "/console/messages?control_id=C0012345",
                    "messages webhook failed": "/console/messages?channel=webhook&status=failed",
                    "messages 5 days back (cursor)":
                        "/console/messages?" + str(httpx.QueryParams({"after": f"{deep}|~"})),
                }
                for label, path in cases.items():
                    _measure(client, [path] * 5)  # warm
                    pages[label] = _measure(client, [path] * REQUESTS)
                pages["message opened (masked, audited)"] = _measure(
                    client, [f"/console/messages/{ids[i % len(ids)]}" for i in range(REQUESTS)])
        pages.update(asyncio.run(_traffic_sql(data_dir / "cari.sqlite3", now)))
    result = {"seeded": seeded, "seed_seconds": seed_s, "requests_per_page": REQUESTS,
              "database": "sqlite", "pages": pages}
    for label, p in pages.items():
        print(f"[{NAME}] {label}: p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])}"
              f" (n={p['n']})")
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{label} [{result['database']}, 100k messages]",
             f"p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])} (n={p['n']})"]
            for label, p in result["pages"].items()]


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
