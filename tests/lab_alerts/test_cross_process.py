"""Two gateway processes on one PostgreSQL database: an alert raised through process A (whose
worker dispatches it) reaches a subscriber connected to process B (which runs no worker),
through LISTEN/NOTIFY; a listening connection that is lost is reopened."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from adapters.lab_alerts.pg_feed import APPLICATION_NAME
from tests.lab_alerts.support import alert_settings, critical, ingest, served_gateway
from tests.lab_alerts.ws import subscriber
from tests.receiver import eventually, wait_for
from tests.support import fresh_postgres_database, live_server

pytestmark = pytest.mark.slow


async def test_an_alert_raised_in_one_process_reaches_subscribers_of_another(
        tmp_path: Path) -> None:
    async with fresh_postgres_database() as url:
        common = {"CARI_DATABASE_URL": url, "CARI_OUTBOX_POLL_SECONDS": "0.1"}
        with live_server(tmp_path / "var", common) as a, \
                live_server(tmp_path / "var", {**common, "CARI_OUTBOX_WORKER": "false"}) as b:
            lab_token = await asyncio.to_thread(a.token, "lab")
            clinician = await asyncio.to_thread(b.token, "clinician")
            async with subscriber(b.base_url, {"token": clinician}) as on_b, \
                    subscriber(a.base_url, {"token": clinician}, facility="KNH_LAB") as on_a, \
                    httpx.AsyncClient(base_url=a.base_url) as client:
                r = await client.post("/api/lab/hl7-ingest", content=critical("X1").encode(),
                                      headers={"Authorization": f"Bearer {lab_token}",
                                               "Content-Type": "text/plain"})
                assert r.status_code == 200, r.text
                result = r.json()["data"]
                await wait_for(lambda: on_b.events and on_a.events, timeout=15)
                [event] = on_b.events
                assert event["labResultId"] == result["lab_result_id"]
                assert event["facilityId"] == "KNH_LAB"
                assert on_a.events == on_b.events  # once on each process, not twice
                await asyncio.sleep(0.5)
                assert len(on_b.events) == 1


async def test_the_listening_connection_is_reopened_after_it_is_lost(tmp_path: Path) -> None:
    async with fresh_postgres_database() as url:
        async with served_gateway(tmp_path, url, alert_settings()) as (h, base_url):
            async def listener_pids() -> list[int]:
                async with h.engine.connect() as conn:
                    return [r[0] for r in (await conn.execute(text(
                        # listening: its last statement was the LISTEN
                        "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
                        "AND query ILIKE 'LISTEN%'"),
                        {"name": APPLICATION_NAME})).all()]

            [first] = await eventually(listener_pids, lambda pids: len(pids) == 1)
            async with h.engine.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            await eventually(listener_pids, lambda pids: len(pids) == 1 and first not in pids,
                             timeout=10)
            async with subscriber(base_url, {"token": h.token("clinician")}) as sub:
                await ingest(h, critical("R1"))
                await wait_for(lambda: sub.events, timeout=10)
