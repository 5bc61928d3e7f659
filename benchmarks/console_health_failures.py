"""The console's health and failures pages over a busy outbox: p50/p95/p99 of each answer.

A gateway process (``python cli.py serve``, SQLite, outbox worker off so the seeded rows stay
as seeded) over a database seeded in bulk after ``cli.py migrate``: 100,000 outbox rows over
eight destinations (2% dead letters, 2% retrying after an error, the rest delivered) and 20
webhook endpoints with 5,000 deliveries each (3% exhausted, 2% retrying). An admin signs in
through the console's form, then each page is asked in turn on one keep-alive connection
(unloaded answer times). The health page groups the outbox by destination and state; the
failures page lists the dead letters, the retrying rows and every endpoint's failed
deliveries (four status queries per endpoint, each audited).

    python -m benchmarks console_health_failures
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks._console import measure, sign_in
from benchmarks._support import (
    Options,
    cli,
    free_port,
    gateway_env,
    ms,
    running_gateway,
    scratch_dir,
    table,
    write_result,
)

NAME = "console_health_failures"
OUTBOX = 100_000
ENDPOINTS = 20
DELIVERIES_PER_ENDPOINT = 5_000
REQUESTS = 100  # per page
DESTINATIONS = ("medplum", "dhis2", "dhis2_tracker", "pacs-sr", "imaging-fhir", "inbox",
                "lab_alerts", "webhook_delivery")


def _ts(when: datetime) -> str:
    # How SQLAlchemy stores a UTC datetime on SQLite (naive, microseconds).
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def seed(database: Path, now: datetime) -> dict[str, int]:
    rng = random.Random(17)
    week = 7 * 24 * 3600
    conn = sqlite3.connect(database)
    try:
        rows = []
        for n in range(OUTBOX):
            at = now - timedelta(seconds=rng.uniform(0, week))
            kind = n % 50
            status, error, delivered = ("delivered", None, _ts(at + timedelta(seconds=1)))
            if kind == 0:
                status, error, delivered = "dead", "HTTP 503: unavailable", None
            elif kind == 1:
                status, error, delivered = "pending", "timed out after 10 s", None
            rows.append((str(uuid.uuid4()), DESTINATIONS[n % len(DESTINATIONS)], "{}", f"k{n}",
                         status, 3 if error else 1, _ts(at + timedelta(days=30)), _ts(at),
                         delivered, error))
        conn.executemany(
            "INSERT INTO outbox_messages (id, destination, payload, idempotency_key, status,"
            " attempts, next_attempt_at, created_at, delivered_at, last_error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        endpoints, deliveries = [], []
        for e in range(ENDPOINTS):
            endpoint_id = str(uuid.uuid4())
            endpoints.append((endpoint_id, f"https://partner{e}.example.org/hooks", '["*"]',
                              "[]", f"partner {e}", e % 7 != 0, "whsec_" + "A" * 40,
                              "bench", _ts(now), _ts(now)))
            for d in range(DELIVERIES_PER_ENDPOINT):
                at = now - timedelta(seconds=rng.uniform(0, week))
                kind = d % 100
                status = ("exhausted" if kind < 3 else "pending" if kind < 5 else "succeeded")
                failed = status != "succeeded"
                deliveries.append((str(uuid.uuid4()), endpoint_id, str(uuid.uuid4()),
                                   "lab.result.created", status, 11 if failed else 1,
                                   500 if failed else 200,
                                   "HTTP 500" if failed else None, _ts(at), _ts(at)))
        conn.executemany(
            "INSERT INTO webhook_endpoints (id, url, event_types, resource_types, description,"
            " enabled, secret, managed_by_settings, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)", endpoints)
        conn.executemany(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status,"
            " attempts, last_status_code, last_error, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", deliveries)
        conn.commit()
    finally:
        conn.close()
    return {"outbox_messages": OUTBOX, "webhook_endpoints": ENDPOINTS,
            "webhook_deliveries": ENDPOINTS * DELIVERIES_PER_ENDPOINT}


def run(options: Options) -> dict[str, Any]:
    pages: dict[str, dict[str, Any]] = {}
    with scratch_dir(NAME, options.keep) as scratch:
        data_dir = scratch / "var"
        data_dir.mkdir()
        env = gateway_env(data_dir, free_port(), CARI_LOG_LEVEL="WARNING")
        cli(env, "migrate")
        started = time.perf_counter()
        seeded = seed(data_dir / "cari.sqlite3", datetime.now(UTC))
        seed_s = time.perf_counter() - started
        print(f"[{NAME}] seeded {json.dumps(seeded)} in {seed_s:.1f} s")
        with running_gateway(data_dir, scratch, CARI_LOG_LEVEL="WARNING",
                             CARI_OUTBOX_WORKER="false") as gateway:
            token = cli(gateway.env, "token", "--sub", "bench-operator", "--roles", "admin")
            with httpx.Client(base_url=gateway.base_url, timeout=60) as client:
                sign_in(client, token)
                for label, path in (("health", "/console/health"),
                                    ("failures", "/console/failures")):
                    measure(client, [path] * 5)  # warm
                    pages[label] = measure(client, [path] * REQUESTS)
    result = {"seeded": seeded, "seed_seconds": seed_s, "requests_per_page": REQUESTS,
              "database": "sqlite", "pages": pages}
    for label, p in pages.items():
        print(f"[{NAME}] {label}: p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])}"
              f" (n={p['n']}, {p['bytes']:,} bytes)")
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{label} [{result['database']}, 100k outbox rows, 100k deliveries]",
             f"p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])} (n={p['n']})"]
            for label, p in result["pages"].items()]


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
