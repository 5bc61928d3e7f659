"""``labAlertRaised`` over graphql-transport-ws (SQLite and PostgreSQL): authentication at
connection_init, the facility filter, role checks on each event, one audit record per
event delivered, and a token that expires mid-subscription ending it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import websockets
from sqlalchemy import text

from tests.lab_alerts.support import (
    alert_settings,
    critical,
    ingest,
    served_gateway,
    without_times,
)
from tests.lab_alerts.ws import refused_close_code, subscriber, ws_url
from tests.receiver import wait_for


async def test_a_subscriber_receives_raised_alerts_of_its_facility(
        tmp_path: Path, database_url: str) -> None:
    async with served_gateway(tmp_path, database_url, alert_settings()) as (h, url):
        init = {"Authorization": f"Bearer {h.token('clinician', sub='dr-otieno')}"}
        async with subscriber(url, init) as everyone, \
                subscriber(url, {"token": h.token("lab")}, facility="KNH_LAB") as knh, \
                subscriber(url, init, facility="MTRH_LAB") as mtrh:
            first = await ingest(h, critical("S1", facility="KNH_LAB"))
            await wait_for(lambda: everyone.events and knh.events, timeout=10)
            [event] = everyone.events
            assert event["labResultId"] == first["lab_result_id"]
            assert event["patientId"] == first["patient_id"]
            assert event["facilityId"] == "KNH_LAB"
            assert event["code"] == "2823-3" and event["direction"] == "high"
            assert event["escalationLevel"] == 0
            assert knh.events == everyone.events
            assert "7.1" not in without_times(str(event))  # never the value
            await asyncio.sleep(0.3)
            assert mtrh.events == []  # another facility's alert is filtered out

            await ingest(h, critical("S2", facility="MTRH_LAB", pid="K2"))
            await wait_for(lambda: mtrh.events and len(everyone.events) == 2, timeout=10)
            assert len(knh.events) == 1

        # Each event delivered is an audited read of the alert, naming the patient.
        async with h.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT subject, patient_id, resource_id, request_id FROM audit_events WHERE "
                "resource_type = 'LabAlert' AND action = 'R' AND outcome = 'success' "
                "AND surface = 'graphql-ws'"
                ))).all()
        read_by = sorted(r[0] for r in rows)
        assert read_by.count("dr-otieno") == 3 and read_by.count("tester") == 1
        assert first["patient_id"] in {r[1] for r in rows}
        assert event["id"] in {r[2] for r in rows}
        # One request id per connection: dr-otieno's two sockets, the lab's one.
        assert len({r[3] for r in rows if r[0] == "dr-otieno"}) == 2
        assert all(r[3].startswith("ws-") for r in rows)


async def test_connections_without_a_valid_token_are_refused(
        tmp_path: Path, sqlite_url: str) -> None:
    async with served_gateway(tmp_path, sqlite_url, alert_settings()) as (h, url):
        assert await refused_close_code(url, {}) == 4403
        assert await refused_close_code(url, {"Authorization": "Bearer v4.public.forged"}) \
            == 4403
        assert await refused_close_code(url, {"Authorization": h.token("billing")}) is None


async def test_roles_are_checked_for_the_subscription_and_its_events(
        tmp_path: Path, sqlite_url: str) -> None:
    async with served_gateway(tmp_path, sqlite_url, alert_settings()) as (h, url):
        async with subscriber(url, {"token": h.token("billing")}) as billing:
            await wait_for(lambda: billing.errors, timeout=5)
            assert "roles" in str(billing.errors[0])
            await ingest(h, critical("R1"))
            await asyncio.sleep(0.5)
            assert billing.events == []


async def test_a_token_that_expires_stops_the_events(tmp_path: Path, sqlite_url: str) -> None:
    async with served_gateway(tmp_path, sqlite_url, alert_settings()) as (h, url):
        # Valid for about 6 s more: exp is 54 s ago and the verifier allows 60 s of skew.
        short = h.issuer.issue("dr-short", ["clinician"], [], ttl_seconds=10,
                               now=datetime.now(UTC) - timedelta(seconds=64))
        async with subscriber(url, {"token": short}) as sub:
            await ingest(h, critical("T1"))
            await wait_for(lambda: sub.events, timeout=5)
            await asyncio.sleep(8.5)  # expired by 2 s or more, skew and exp rounding included
            await ingest(h, critical("T2", pid="K3"))
            # Generous: on a loaded CI machine (one pytest worker per core) the second alert
            # can take seconds to reach the feed; what matters is that it ends the stream.
            try:
                await wait_for(lambda: sub.completed, timeout=30)
            except AssertionError:
                raise AssertionError(f"not completed: events {sub.events}, errors "
                                     f"{sub.errors}, closed {sub.closed}") from None
            assert len(sub.events) == 1


async def test_subscriptions_are_refused_over_http_and_from_foreign_origins(
        tmp_path: Path, sqlite_url: str) -> None:
    async with served_gateway(tmp_path, sqlite_url, alert_settings()) as (h, url):
        r = await h.client.post("/graphql", json={
            "query": "subscription { labAlertRaised { id } }"}, headers=h.auth("clinician"))
        assert r.status_code == 400 and "WebSocket" in r.text
        # A query naming the word elsewhere is still a query.
        r = await h.client.post("/graphql", json={
            "query": '{ labAlerts(patientId: "subscription") { id } }'},
            headers=h.auth("clinician"))
        assert r.status_code == 200 and r.json()["data"] == {"labAlerts": []}
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url(url), subprotocols=[  # type: ignore[list-item]
                    "graphql-transport-ws"], origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
