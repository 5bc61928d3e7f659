"""Scheduled messages survive restarts, and several gateway processes sharing one database
never send a message twice (claims with a lease, settled by compare-and-set)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.db.engine import session_factory
from adapters.db.messaging import SqlMessagingStore
from resolvers.messaging.model import MessageRequest, Purpose, TemplateCall
from tests.messaging.conftest import gateway_settings
from tests.messaging.fake_graph import serving_graph
from tests.support import fresh_postgres_database, running_app

REMINDER = "Hello {{1}}, your appointment is at {{2}}."


def _requests(count: int, send_at: datetime) -> list[MessageRequest]:
    # Clinician-style messages (no consent needed) to distinct numbers.
    return [MessageRequest(
        key=f"bulk:{i}", purpose=Purpose.LAB_ALERT, send_at=send_at,
        phone=f"+2547110{i:05d}", requires_consent=False,
        template=TemplateCall("appointment_reminder", "en", (f"P{i}", "10:30")))
        for i in range(count)]


async def test_a_scheduled_message_is_sent_by_the_next_process(
        tmp_path: Path, database_url: str) -> None:
    async with serving_graph() as graph:
        graph.add_template("appointment_reminder", "en", REMINDER)
        # First process: no worker (as if it stopped before send_at).
        first = gateway_settings(tmp_path, database_url, graph)
        async with running_app(replace(first, outbox_worker=False)) as gateway:
            synced = await gateway.client.post("/api/notifications/templates/sync",
                                               headers=gateway.auth("integrator"))
            assert synced.status_code == 200
            [stored] = await gateway.app.state.services.messaging.scheduler.schedule(
                _requests(1, datetime.now(UTC) + timedelta(seconds=0.5)))
            assert stored.status == "scheduled"
            await asyncio.sleep(0.8)
            assert graph.accepted == []  # nobody sends in this process
        # A new process on the same database sends it.
        async with running_app(gateway_settings(tmp_path, database_url, graph)) as gateway:
            for _ in range(200):
                if graph.accepted:
                    break
                await asyncio.sleep(0.05)
            [accepted] = graph.accepted
            assert accepted.body["biz_opaque_callback_data"] == stored.id
            for _ in range(100):  # the settle commits just after Meta's answer
                message = (await gateway.client.get(f"/api/notifications/{stored.id}",
                                                    headers=gateway.auth("clinician"))
                           ).json()["data"]
                if message["status"] == "sent":
                    break
                await asyncio.sleep(0.05)
            assert message["status"] == "sent" and message["wamid"] == accepted.wamid


async def test_two_processes_never_send_one_message_twice(tmp_path: Path) -> None:
    async with fresh_postgres_database() as url, serving_graph() as graph:
        graph.add_template("appointment_reminder", "en", REMINDER)
        graph.throughput = 10_000
        a_settings = gateway_settings(tmp_path / "a", url, graph, lease_seconds=30.0)
        b_settings = gateway_settings(tmp_path / "b", url, graph, lease_seconds=30.0)
        async with running_app(a_settings) as a, running_app(b_settings) as b:
            await a.client.post("/api/notifications/templates/sync",
                                headers=a.auth("integrator"))
            graph.slow(0.2, times=20)  # sends overlap between the two processes
            due = datetime.now(UTC) + timedelta(seconds=0.3)
            await a.app.state.services.messaging.scheduler.schedule(_requests(60, due))
            for _ in range(400):
                if len(graph.accepted) >= 60:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            counts = Counter(x.body["biz_opaque_callback_data"] for x in graph.accepted)
            assert len(counts) == 60
            assert max(counts.values()) == 1, "a message was sent twice"
            senders = [a.app.state.services.messaging.sender,
                       b.app.state.services.messaging.sender]
            assert all(s is not None for s in senders)


async def test_a_crash_between_claim_and_send_loses_nothing(
        tmp_path: Path, database_url: str) -> None:
    """A process claimed the message and died before sending: once its lease runs out the
    next sender takes it over and sends it, once."""
    async with serving_graph() as graph:
        graph.add_template("appointment_reminder", "en", REMINDER)
        settings = gateway_settings(tmp_path, database_url, graph)
        async with running_app(replace(settings, outbox_worker=False)) as gateway:
            await gateway.client.post("/api/notifications/templates/sync",
                                      headers=gateway.auth("integrator"))
            messaging = gateway.app.state.services.messaging
            [stored] = await messaging.scheduler.schedule(_requests(1, datetime.now(UTC)))
            now = datetime.now(UTC)
            # The dead process's claim, made through the store as its sender would.
            store = SqlMessagingStore(session_factory(gateway.engine), lambda: now)
            claimed = await store.claim_due(
                now=now, limit=10, lease_until=now + timedelta(seconds=1),
                claim_token="dead-process")
            assert [m.id for m in claimed] == [stored.id]
        lease_until = now + timedelta(seconds=1)
        async with running_app(settings) as gateway:
            for _ in range(100):
                if graph.accepted:
                    break
                await asyncio.sleep(0.05)
            assert [a.body["biz_opaque_callback_data"] for a in graph.accepted] == [stored.id]
            # Not before the dead process's lease ran out.
            assert graph.accepted[0].at >= lease_until.timestamp()
