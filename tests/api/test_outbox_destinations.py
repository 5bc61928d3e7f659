"""Pausing and resuming an outbox destination over REST: integrator and admin only, audited,
only destinations the outbox has a handler for; while paused the worker leaves its rows
pending, and once resumed they are delivered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from resolvers.outbox.model import OutboxMessage
from tests.receiver import eventually, wait_for
from tests.support import Harness, make_settings, running_app

DESTINATION = "test_lis"  # an outbox handler added as a deployment adds one
BASE = "/api/admin/outbox/destinations"


class Recorded:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def deliver(self, message: OutboxMessage) -> None:
        self.keys.append(message.idempotency_key)


@pytest.fixture
async def app(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[Harness, Recorded]]:
    received = Recorded()

    def handlers(client: httpx.AsyncClient) -> dict[str, Recorded]:
        return {DESTINATION: received}

    async with running_app(make_settings(tmp_path / "var", sqlite_url), extra_handlers=handlers,
                           extra_subscriptions={DESTINATION: ["patient.created"]}) as h:
        yield h, received


async def _state(h: Harness) -> dict[str, object]:
    r = await h.client.get(BASE, headers=h.auth("integrator"))
    assert r.status_code == 200, r.text
    (found,) = [d for d in r.json()["data"]["items"] if d["destination"] == DESTINATION]
    state: dict[str, object] = found
    return state


async def test_a_paused_destination_waits_and_flows_again_once_resumed(
        app: tuple[Harness, Recorded]) -> None:
    h, received = app
    assert (await _state(h))["paused"] is False
    r = await h.client.post(f"{BASE}/{DESTINATION}/pause", json={"reason": "LIS upgrade"},
                            headers=h.auth("integrator", sub="ops@clinic"))
    assert r.status_code == 200, r.text
    assert r.json()["data"] | {"paused_at": None} == {
        "destination": DESTINATION, "paused": True, "paused_at": None, "paused_by": "ops@clinic",
        "reason": "LIS upgrade", "pending": 0, "failing": 0, "in_flight": 0, "dead": 0}
    # Pausing again (a second operator, a double click) keeps the first pause.
    again = await h.client.post(f"{BASE}/{DESTINATION}/pause", headers=h.auth("admin", sub="b"))
    assert again.status_code == 200 and again.json()["data"]["paused_by"] == "ops@clinic"

    await h.create_patient()
    await asyncio.sleep(0.5)  # the commit woke the worker: its passes left the row alone
    assert received.keys == []
    waiting = await _state(h)
    assert (waiting["paused"], waiting["pending"], waiting["failing"]) == (True, 1, 0)

    resumed = await h.client.post(f"{BASE}/{DESTINATION}/resume", headers=h.auth("integrator"))
    assert resumed.status_code == 200
    assert resumed.json()["data"] == {"destination": DESTINATION, "resumed": True}
    await wait_for(lambda: len(received.keys) == 1)
    assert (await eventually(lambda: _state(h), lambda s: s["pending"] == 0))["paused"] is False
    twice = await h.client.post(f"{BASE}/{DESTINATION}/resume", headers=h.auth("integrator"))
    assert twice.json()["data"]["resumed"] is False

    audit = await h.client.get("/api/admin/audit-events?resource_type=OutboxDestination",
                               headers=h.auth("admin"))
    rows = [(e["subject"], e["action"], e["resource_id"], e["outcome"])
            for e in audit.json()["data"]["items"]]
    assert sorted(rows) == sorted([("ops@clinic", "E", DESTINATION, "success"),  # paused
                                   ("tester", "E", DESTINATION, "success")])  # resumed


async def test_roles_and_unknown_destinations(app: tuple[Harness, Recorded]) -> None:
    h, _ = app
    for path in (f"{BASE}/{DESTINATION}/pause", f"{BASE}/{DESTINATION}/resume"):
        assert (await h.client.post(path)).status_code == 401
        for role in ("clinician", "lab", "billing"):
            refused = await h.client.post(path, headers=h.auth(role))
            assert refused.status_code == 403, (path, role)
    assert (await h.client.get(BASE, headers=h.auth("clinician"))).status_code == 403
    assert (await _state(h))["paused"] is False

    unknown = await h.client.post(f"{BASE}/no_such_place/pause", headers=h.auth("admin"))
    assert unknown.status_code == 404
    assert (await h.client.post(f"{BASE}/no_such_place/resume",
                                headers=h.auth("admin"))).status_code == 404
    too_long = await h.client.post(f"{BASE}/{DESTINATION}/pause", json={"reason": "x" * 501},
                                   headers=h.auth("admin"))
    assert too_long.status_code == 422
    audit = await h.client.get("/api/admin/audit-events?resource_type=OutboxDestination",
                               headers=h.auth("admin"))
    assert [(e["resource_id"], e["outcome"]) for e in audit.json()["data"]["items"]] == [
        ("no_such_place", "not_found")] * 2
