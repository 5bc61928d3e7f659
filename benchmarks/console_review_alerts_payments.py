"""The console's MPI review, lab alert and payment pages over a busy register: p50/p95/p99.

A gateway process (``python cli.py serve``, SQLite, outbox worker off) with 1,000 HL7 ORU^R01
messages ingested through ``POST /api/lab/hl7-ingest`` for a patient the index is not sure of
(each held for review, with its critical potassium alert held too: 1,000 open review tasks
and 1,000 unacknowledged alerts), and 50,000 payments seeded in bulk after ``cli.py migrate``
(four providers, every status, two or three transitions each, by the API, callbacks and the
reconciler). An admin signs in through the console's form, then each page is asked in turn on
one keep-alive connection (unloaded answer times). The review page re-reads each case's
stored message and candidates; every page's reads are audited.

    python -m benchmarks console_review_alerts_payments
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
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
from resolvers.ids import new_id

NAME = "console_review_alerts_payments"
HELD = 1_000
PAYMENTS = 50_000
REQUESTS = 50  # per page
PROVIDERS = (("mpesa", "KES"), ("mtn_momo", "UGX"), ("orange_money", "XOF"), ("stripe", "USD"))
MESSAGE = "\r".join([
    r"MSH|^~\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||ORU^R01^ORU_R01"
    r"|{control}|P|2.5|||AL|NE",
    r"PID|1||MRN4455^^^DISTRICT_HOSP&2.16.840.1.113883.19.5&ISO^MR||ODHIAMBO^GRACE^A^^^^L||"
    r"19850412|F",
    r"OBR|1|PLC{n}^GATEWAY|FIL{n}^LABSYS|24323-8^Comprehensive metabolic panel^LN|||"
    r"20260115071500|||||||||||||||20260115082500|||F",
    r"OBX|1|NM|2823-3^Potassium SerPl-sCnc^LN||6.9|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|||"
    r"20260115071500",
]) + "\r"


def _ts(when: datetime) -> str:
    # How SQLAlchemy stores a UTC datetime on SQLite (naive, microseconds).
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def seed_payments(database: Path, now: datetime) -> int:
    rng = random.Random(17)
    payments, transitions = [], []
    for n in range(PAYMENTS):
        provider, currency = PROVIDERS[n % len(PROVIDERS)]
        at = now - timedelta(seconds=PAYMENTS - n)  # ids are time-ordered: oldest first
        payment_id = new_id()
        roll = rng.random()
        status = ("succeeded" if roll < .7 else "failed" if roll < .8 else "pending"
                  if roll < .9 else "expired")
        payments.append((
            payment_id, provider, "collection", rng.randint(100, 500_000) * 100, currency,
            "+254712345678", f"INV-{n}", "", None, status, f"key-{n}", "0" * 64,
            str(uuid.uuid4()), uuid.uuid4().hex + uuid.uuid4().hex, f"ref-{n}", None, None,
            None, "insufficient funds" if status == "failed" else None, "bench", _ts(at),
            _ts(at), _ts(at + timedelta(minutes=5)),
            _ts(at + timedelta(minutes=1)) if status == "pending" else None,
            1 if status in ("pending", "expired") else 0, 1, 0))
        steps = [(None, "created", "collection requested", "api"),
                 ("created", "pending", "provider accepted the request", "api")]
        if status != "pending":
            source = "reconcile" if n % 3 == 0 else "callback"
            steps.append(("pending", status, f"provider reports {status}", source))
        for i, (before, after, reason, source) in enumerate(steps):
            transitions.append((new_id(), payment_id, before, after, reason, source,
                                _ts(at + timedelta(seconds=i))))
    conn = sqlite3.connect(database)
    try:
        conn.executemany(
            "INSERT INTO payments (id, provider, direction, amount_minor, currency, phone_e164,"
            " reference, description, patient_id, status, idempotency_key, request_hash,"
            " attempt_key, callback_token_hash, provider_reference, provider_transaction_id,"
            " provider_secret_hash, redirect_url, failure_reason, created_by, created_at,"
            " updated_at, expires_at, next_check_at, checks, initiated, refunded_minor)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?)", payments)
        conn.executemany(
            "INSERT INTO payment_transitions (id, payment_id, from_status, to_status, reason,"
            " source, at) VALUES (?, ?, ?, ?, ?, ?, ?)", transitions)
        conn.commit()
    finally:
        conn.close()
    return len(transitions)


def seed_held_results(base_url: str, lab_token: str, clinician_token: str) -> float:
    """A lookalike patient, then HELD messages that only probably match it (over HTTP)."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        created = client.post("/api/patients", json={
            "family": "Odhiambo", "given": ["Grace"], "birth_date": "1985-12-04",
            "gender": "female", "identifiers": [{"system": "urn:bench:other", "value": "X1"}]},
            headers={"Authorization": f"Bearer {clinician_token}"})
        created.raise_for_status()

    def send(n: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            for m in range(n, HELD, 8):
                answer = client.post("/api/lab/hl7-ingest",
                                     content=MESSAGE.format(control=f"BENCH{m}", n=m).encode(),
                                     headers={"Authorization": f"Bearer {lab_token}",
                                              "Content-Type": "text/plain"})
                if answer.status_code != 200 or answer.json()["data"]["patient_matched"]:
                    raise RuntimeError(f"ingest: {answer.status_code} {answer.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(8)))
    return time.perf_counter() - started


PAGES = (("review (10 cases)", "/console/review"),
         ("alerts (50 waiting)", "/console/alerts"),
         ("payments (50)", "/console/payments"),
         ("payments failed", "/console/payments?status=failed"),
         ("payments by reference", "/console/payments?reference=INV-4242"))


def run(options: Options) -> dict[str, Any]:
    pages: dict[str, dict[str, Any]] = {}
    with scratch_dir(NAME, options.keep) as scratch:
        data_dir = scratch / "var"
        data_dir.mkdir()
        env = gateway_env(data_dir, free_port(), CARI_LOG_LEVEL="WARNING")
        cli(env, "migrate")
        started = time.perf_counter()
        transitions = seed_payments(data_dir / "cari.sqlite3", datetime.now(UTC))
        seed_s = time.perf_counter() - started
        with running_gateway(data_dir, scratch, CARI_LOG_LEVEL="WARNING",
                             CARI_OUTBOX_WORKER="false") as gateway:
            def token(role: str) -> str:
                return cli(gateway.env, "token", "--sub", f"bench-{role}", "--roles", role)

            ingest_s = seed_held_results(gateway.base_url, token("lab"), token("clinician"))
            seeded = {"payments": PAYMENTS, "payment_transitions": transitions,
                      "held_results": HELD}
            print(f"[{NAME}] seeded {json.dumps(seeded)}: payments in {seed_s:.1f} s, "
                  f"{HELD} messages ingested in {ingest_s:.1f} s")
            with httpx.Client(base_url=gateway.base_url, timeout=60) as client:
                sign_in(client, token("admin"))
                for label, path in PAGES:
                    measure(client, [path] * 3)  # warm
                    pages[label] = measure(client, [path] * REQUESTS)
    result = {"seeded": seeded, "requests_per_page": REQUESTS, "database": "sqlite",
              "pages": pages}
    for label, p in pages.items():
        print(f"[{NAME}] {label}: p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])}"
              f" (n={p['n']}, {p['bytes']:,} bytes)")
    write_result(NAME, result)
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{label} [{result['database']}, 50k payments, 1k held results]",
             f"p50 {ms(p['p50'])}, p95 {ms(p['p95'])}, p99 {ms(p['p99'])} (n={p['n']})"]
            for label, p in result["pages"].items()]


if __name__ == "__main__":
    print(table(["benchmark", "scenario", "result"], rows(run(Options()))))
