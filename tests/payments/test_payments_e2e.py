"""End to end over real HTTP: gateway processes, B's contract-faithful fake Daraja, real adapter.

The same STK callback delivered 20 times at once changes the payment exactly once: on SQLite
with one gateway process, and on PostgreSQL with two gateway processes sharing the database
(the 20 copies are spread over both).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.payments.fakes.base import serving
from tests.payments.fakes.daraja import FakeDaraja, StkScenario
from tests.receiver import eventually
from tests.support import LiveServer, fresh_postgres_database, live_server

pytestmark = pytest.mark.slow
BODY = {"provider": "mpesa", "amount": 50000, "currency": "KES", "phone": "0711000111",
        "reference": "CONSULT4821"}


def _env(fake: FakeDaraja, database_url: str | None) -> dict[str, str]:
    env = {"CARI_MPESA_BASE_URL": fake.base_url, "CARI_MPESA_CONSUMER_KEY": fake.consumer_key,
           "CARI_MPESA_CONSUMER_SECRET": fake.consumer_secret,
           "CARI_MPESA_SHORTCODE": fake.shortcode, "CARI_MPESA_PASSKEY": fake.passkey,
           "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1", "CARI_OUTBOX_POLL_SECONDS": "0.05",
           "CARI_PAYMENTS_RECONCILE_SECONDS": "0", "CARI_LOG_LEVEL": "INFO"}
    if database_url:
        env["CARI_DATABASE_URL"] = database_url
    return env


@contextlib.contextmanager
def _servers(tmp: Path, env: dict[str, str], count: int) -> Iterator[list[LiveServer]]:
    with contextlib.ExitStack() as stack:
        # One data directory: the processes share the local signing key, like a deployment.
        yield [stack.enter_context(live_server(tmp / "var", env)) for _ in range(count)]


@contextlib.asynccontextmanager
async def _fake() -> AsyncIterator[FakeDaraja]:
    async with serving(FakeDaraja()) as fake:
        assert isinstance(fake, FakeDaraja)
        yield fake


async def _start(server: LiveServer, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        r = await client.post("/api/payments", json=BODY, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "e2e-1"})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def _payment(server: LiveServer, token: str, payment_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        r = await client.get(f"/api/payments/{payment_id}",
                             headers={"Authorization": f"Bearer {token}"})
    data: dict[str, Any] = r.json()["data"]
    return data


def _callback(fake: FakeDaraja, checkout: str) -> bytes:
    push = fake.pushes[checkout]
    return json.dumps({"Body": {"stkCallback": {
        "MerchantRequestID": push.merchant, "CheckoutRequestID": checkout, "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": push.amount},
            {"Name": "MpesaReceiptNumber", "Value": "TC13XYZ9QK"}, {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": 20260301101531},
            {"Name": "PhoneNumber", "Value": int(push.phone)}]}}}}).encode()


async def test_stk_push_with_twenty_concurrent_callbacks_on_sqlite(tmp_path: Path) -> None:
    async with _fake() as fake:
        fake.stk.default = StkScenario(callback_copies=20, callback_concurrent=True,
                                       callback_delay=0.3)
        with _servers(tmp_path, _env(fake, None), 1) as [server]:
            token = await asyncio.to_thread(server.token, "billing")
            created = await _start(server, token)
            assert created["status"] == "pending"
            done = await eventually(lambda: _payment(server, token, created["id"]),
                                    lambda p: p["status"] != "pending", timeout=20)
            await fake.settle()
            await asyncio.sleep(0.5)
            final = await _payment(server, token, created["id"])
        assert done["status"] == "succeeded" and final["provider_transaction_id"]
        assert [t["to_status"] for t in final["history"]] == ["created", "pending", "succeeded"]
        assert len(fake.calls("/mpesa/stkpush/v1/processrequest")) == 1
        assert sorted(c.status or 0 for c in fake.callbacks) == [200] * 20


async def test_twenty_concurrent_callbacks_over_two_postgres_processes(tmp_path: Path) -> None:
    async with _fake() as fake, fresh_postgres_database() as url:
        fake.stk.default = StkScenario(callback=False)  # the test delivers the copies itself
        with _servers(tmp_path, _env(fake, url), 2) as servers:
            token = await asyncio.to_thread(servers[0].token, "billing")
            created = await _start(servers[0], token)
            checkout = created["provider_reference"]
            push = fake.pushes[checkout]
            path_and_query = push.callback_url.split("://", 1)[1].split("/", 1)[1]
            raw = _callback(fake, checkout)

            async def deliver(i: int) -> int:
                async with httpx.AsyncClient(base_url=servers[i % 2].base_url) as client:
                    r = await client.post("/" + path_and_query, content=raw,
                                          headers={"Content-Type": "application/json"})
                return r.status_code

            statuses = await asyncio.gather(*(deliver(i) for i in range(20)))
            assert statuses == [200] * 20
            await eventually(lambda: _payment(servers[1], token, created["id"]),
                             lambda p: p["status"] == "succeeded", timeout=20)
            await asyncio.sleep(1.0)  # any second application would have happened by now
            final = await _payment(servers[0], token, created["id"])
        assert [t["to_status"] for t in final["history"]] == ["created", "pending", "succeeded"]
        assert len(fake.calls("/mpesa/stkpush/v1/processrequest")) == 1
